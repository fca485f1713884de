// The lab's sample service: answers every HTTP request with the name of the member it runs on.
// Usage: node http-service.mjs PORT ADDRESS MEMBER PIDFILE. The pid file appears once it listens,
// so its LSB script's start returns only when the service answers.
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";

const [port, address, member, pidFile] = process.argv.slice(2);
const server = createServer((_req, res) => {
  res.setHeader("connection", "close");
  res.end(`${member}\n`);
});
server.listen(Number(port), address, () => writeFileSync(pidFile, `${process.pid}\n`));
process.on("SIGTERM", () => process.exit(0));
