// How the callgrind scripts (bench:instructions, bench:attribute) take their settings.

/** `--name=value` on the command line, else `BENCH_NAME` in the environment. */
export function setting(name: string): string | undefined {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  return flag?.slice(name.length + 3) ?? process.env[`BENCH_${name.toUpperCase()}`];
}
