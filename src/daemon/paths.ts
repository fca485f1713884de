// Where a member's daemon keeps its pid file and admin socket: the commands that talk to it
// (cluadmin, clumanager status and stop) need these names without loading the daemon.
export const DEFAULT_RUN_DIR = "/var/run/clumanager";
export const PID_FILE = "clumanager.pid";
export const SOCKET_FILE = "clumanager.sock";
