// A resource driver from its cluster.conf block.
import type { Resource as ResourceConfig } from "../config/model.js";
import { FsResource } from "./fs.js";
import { IpResource } from "./ip.js";
import { OcfResource } from "./ocf.js";
import type { Resource } from "./resource.js";
import { ScriptResource } from "./script.js";

export function createResource(c: ResourceConfig): Resource {
  switch (c.type) {
    case "script":
      return new ScriptResource(c.path);
    case "ocf":
      return new OcfResource(c.agent, c.params);
    case "ip":
      return new IpResource(c.address, c.interface);
    case "fs":
      return new FsResource(c);
  }
}
