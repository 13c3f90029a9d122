// Creates a lab, reports its prefix and waits to be signalled.
import { Lab } from "../../lab/lab.js";

const lab = await Lab.create({ nodes: 1 });
console.log(JSON.stringify({ prefix: lab.prefix }));
setInterval(() => {}, 1000);
