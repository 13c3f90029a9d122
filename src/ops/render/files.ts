/** One output file, relative to the output directory. */
export interface RenderedFile {
  path: string;
  content: string;
}
