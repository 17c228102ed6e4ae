/** Entry point; the real command line arrives with this package's implementation. */
export async function main(argv: string[]): Promise<void> {
  void argv;
  process.stderr.write('not implemented yet\n');
  process.exitCode = 1;
}
