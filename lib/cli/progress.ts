/**
 * Training progress on the terminal: a `cli-progress` bar with the step, loss, tokens/s and ETA when stdout is
 * a terminal, and plain lines (every `every` steps and at the end) when it is not (a log file, CI).
 *
 * @module
 */

import cliProgress from "cli-progress";
import process from "node:process";

/** What one step reports. */
export interface StepReport {
  /** The update just applied (1-based). */
  step: number;
  /** The latest loss read back, if any yet. */
  loss?: number;
  /** Tokens trained on per second since the run (or resume) started. */
  tokensPerSecond: number;
}

/** Shows a run's progress. */
export interface Progress {
  /** Reports a finished step. */
  update(report: StepReport): void;
  /** Ends the display (the bar's last frame, or nothing for plain lines). */
  stop(): void;
}

/** `1h 02m`, `3m 07s`, `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** One plain progress line. */
export function progressLine(report: StepReport, total: number, etaSeconds: number): string {
  const loss = report.loss === undefined ? "-" : report.loss.toFixed(4);
  return `step ${report.step}/${total}  loss ${loss}  ${Math.round(report.tokensPerSecond)} tok/s  ` +
    `ETA ${formatDuration(etaSeconds)}`;
}

/**
 * Progress of steps `start + 1` to `total`: a bar on a terminal, else a {@link progressLine} every `every`
 * steps and at the last one, through `log`.
 */
export function trainingProgress(
  total: number,
  start: number,
  options: { every: number; log: (line: string) => void; terminal?: boolean },
): Progress {
  const begin = performance.now();
  const eta = (step: number) =>
    ((performance.now() - begin) / 1000) * (total - step) / Math.max(1, step - start);
  if (!(options.terminal ?? Deno.stdout.isTerminal())) {
    return {
      update(report) {
        if (report.step % options.every === 0 || report.step === total) {
          options.log(progressLine(report, total, eta(report.step)));
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar({
    format: "step {value}/{total} |{bar}| loss {loss} | {tps} tok/s | ETA {eta_formatted}",
    stream: process.stdout,
    hideCursor: true,
    etaBuffer: 20,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, start, { loss: "-", tps: 0 });
  return {
    update(report) {
      bar.update(report.step, {
        loss: report.loss === undefined ? "-" : report.loss.toFixed(4),
        tps: Math.round(report.tokensPerSecond),
      });
    },
    stop: () => bar.stop(),
  };
}
