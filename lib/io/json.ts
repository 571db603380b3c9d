/**
 * JSON files read with errors that name them: `JSON.parse` alone says only "Unexpected token", not which of
 * a run's many files is broken.
 *
 * @module
 */

/**
 * Parses the text of the JSON file at `path`.
 *
 * @throws {SyntaxError} naming the file and the parser's complaint.
 */
export function parseJsonFile(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot read "${path}": it is not valid JSON (${(error as Error).message})`);
  }
}
