import { World } from "./test/sim/world.js";

const seed = Number(process.argv[2]);
const w = new World({
  seed,
  members: seed % 50 === 0 ? 16 : 2 + (seed % 5),
  faultMs: 60_000,
  quietMs: 100_000,
  switchFaults: seed % 2 === 0,
});
try {
  w.run();
} catch (e) {
  console.log(String(e));
}
const re = new RegExp(process.argv[3] ?? ".");
console.log(w.trace.filter((l) => re.test(l)).join("\n"));
