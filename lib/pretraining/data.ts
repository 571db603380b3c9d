/**
 * The pretraining data: the bundled corpus (the paper's C4 stands here) split by document
 * (`splitCorpus`: a hash of each document's source and id), so validation documents are never seen in
 * training, not even in part. Training samples windows anywhere in the training stream; validation scores
 * windows spread evenly over the held-out stream, so every source is in it, not only the first.
 *
 * @module
 */

import { tokenStream } from "../data/batches.ts";
import { loadCorpus, splitCorpus } from "../data/corpus.ts";
import type { Tokenizer } from "../data/tokenizer.ts";

/** Token streams of the two splits, and how many documents each holds. */
export interface PretrainData {
  train: Uint32Array;
  validation: Uint32Array;
  trainDocuments: number;
  validationDocuments: number;
}

/** The corpus tokenized and split by document. */
export async function loadPretrainData(tokenizer: Tokenizer): Promise<PretrainData> {
  const split = splitCorpus(await loadCorpus());
  return {
    train: tokenStream(split.train, tokenizer),
    validation: tokenStream(split.validation, tokenizer),
    trainDocuments: split.train.length,
    validationDocuments: split.validation.length,
  };
}
