// The WTI NPS text interface, shared by the driver and the simulator: the prompts, and the /S
// plug table in the layout that both fence_wti and the Linux-HA plugin parse.

/** Command prompts of the WTI family (NPS, IPS, TPS, RSM, MPC, NBB, VMR), at the end of output. */
export const NPS_PROMPT = /(?:RSM|MPC|IPS|TPS|NBB|NPS|VMR)>\s*$/;
export const NPS_PASSWORD_PROMPT = /Password:\s*$/i;
export const NPS_CONFIRM_PROMPT = /\(Y\/N\):\s*$/i;

export interface PlugRow {
  plug: string;
  name: string;
  state: "on" | "off";
  /** Marked with "*": a command on it is still in progress, so its state is not settled. */
  busy: boolean;
}

const SEPARATOR = "-----+------------------+------------------+--------+------------+---------+";

export function renderStatusTable(rows: readonly PlugRow[]): string {
  const lines = [
    "Plug | Name             | Password         | Status | Boot Delay | Default |",
    SEPARATOR,
    ...rows.map(
      (r) =>
        ` ${r.plug.padEnd(4)}| ${r.name.padEnd(17)}| ${"(undefined)".padEnd(17)}|  ${`${r.state === "on" ? "ON" : "OFF"}${r.busy ? "*" : ""}`.padEnd(6)}|   5 Secs   |   ON    |`,
    ),
    SEPARATOR,
  ];
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * Reads the plug table out of /S output, as fence_wti does: a header line starting with "Plug"
 * names the columns, the line after it is a separator, every following line with "|" is a row.
 * Returns undefined when there is no table with plug, name and status columns.
 */
export function parseStatusTable(text: string): PlugRow[] | undefined {
  const lines = text.split(/\r\n|\r|\n/);
  // The last table: leftovers of an earlier, abandoned read may come before it.
  const headerAt = lines.findLastIndex((l) => l.toUpperCase().startsWith("PLUG"));
  if (headerAt === -1) return undefined;
  const columns = lines[headerAt]!.split("|").map((c) => c.trim().toLowerCase());
  const plugCol = columns.indexOf("plug");
  const nameCol = columns.indexOf("name");
  const statusCol = columns.indexOf("status");
  if (plugCol === -1 || nameCol === -1 || statusCol === -1) return undefined;
  const rows: PlugRow[] = [];
  for (const line of lines.slice(headerAt + 2)) {
    if (!line.includes("|")) continue;
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < columns.length) break;
    const plug = cells[plugCol]!;
    const marked = cells[statusCol]!.toLowerCase();
    const status = marked.replace("*", "").trim();
    if (!/^\d+$/.test(plug)) continue; // the closing separator
    if (status !== "on" && status !== "off") return undefined;
    rows.push({ plug, name: cells[nameCol]!, state: status, busy: marked.includes("*") });
  }
  return rows;
}
