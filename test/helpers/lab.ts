// Moved to tools/lab, which the lab tool, the demo and the benchmark share with the tests.
export * from "../../tools/lab/lab.js";
