/**
 * A stand-in for a full disk where the tests cannot mount a small tmpfs (not root): loaded with
 * `deno run --preload`, it makes every open-for-writing under `$MORA_FULL_DISK_DIR` fail as the OS does on a
 * full disk (an `Error` with code ENOSPC), except the lock file, whose few bytes fit on a nearly full disk,
 * unless `$MORA_FULL_DISK_LOCK` is set too.
 *
 * @module
 */

const dir = Deno.env.get("MORA_FULL_DISK_DIR");
const lockFits = !Deno.env.get("MORA_FULL_DISK_LOCK");
if (dir) {
  const open = Deno.open;
  Deno.open = (path: string | URL, options?: Deno.OpenOptions) => {
    const file = String(path);
    const writing = options?.write || options?.append || options?.create || options?.createNew;
    if (writing && file.startsWith(`${dir}/`) && !(lockFits && file.endsWith("/.bench.lock"))) {
      const error = new Error(`No space left on device (os error 28): open '${file}'`);
      return Promise.reject(Object.assign(error, { code: "ENOSPC" }));
    }
    return open(path, options);
  };
}
