import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "native/build/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Developers' guide: no source file over 500 lines, no function over 80; a reasoned exception is
    // disabled inline with its reason.
    files: ["src/**/*.ts"],
    rules: {
      "max-lines": ["error", { max: 500, skipBlankLines: false, skipComments: false }],
      "max-lines-per-function": ["error", { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // Developers' guide: monotonic time for every duration and timeout; the wall clock only where a
    // timestamp others wrote is compared or one is written (src/common/clock.ts names both).
    files: ["src/**/*.ts"],
    ignores: ["src/common/clock.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message:
            "Date.now() steps with the wall clock: monotonicNow() (src/common/clock.ts) or performance.now() for durations and deadlines, wallNow() to compare with a timestamp another party wrote.",
        },
      ],
    },
  },
);
