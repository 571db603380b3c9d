/**
 * The MoRA paper's results (Tables 1–5, 7 and 8) as data, which the report shows beside our numbers. The
 * numbers are the paper's tables (LLaMA-2 7B unless a table says otherwise); `results.json` is copied
 * unchanged from the project's shared paper folder (`shared/paper/paper-results.json`, transcribed from
 * `shared/paper/mora-paper.md`), so that a clone renders its reports without that folder.
 *
 * @module
 */

import results from "./results.json" with { type: "json" };

/** The paper's tables by name (`table1_uuid_char_accuracy` … `table8_finance`), each with its rows. */
export const paperResults: typeof results = results;
