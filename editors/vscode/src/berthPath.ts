// Which `berth` executable to start: the setting, else the workspace's .venv, else PATH.

import * as path from "node:path";

export function resolveBerthPath(
  setting: string,
  folders: readonly string[],
  isExecutable: (file: string) => boolean,
): string {
  if (setting.trim()) {
    return setting.trim();
  }
  for (const folder of folders) {
    const candidate = path.join(folder, ".venv", "bin", "berth");
    if (isExecutable(candidate)) {
      return candidate;
    }
  }
  return "berth";
}
