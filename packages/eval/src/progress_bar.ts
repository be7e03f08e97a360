/**
 * A one-line progress bar on a stream: redrawn in place on a terminal, one line every `every`
 * steps (and at the end) otherwise, so CI logs stay short.
 */
export function progressBar(stream: NodeJS.WriteStream = process.stderr, every = 10): (done: number, total: number, label: string) => void {
  const start = Date.now();
  let lastLine = -1;
  return (done, total, label) => {
    const frac = total > 0 ? done / total : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (Date.now() - start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
    const text = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`
      + (Number.isFinite(eta) ? ` (eta ${Math.round(eta)} s)` : '');
    if (stream.isTTY) {
      stream.write(`\r${text.slice(0, (stream.columns ?? 120) - 1).padEnd((stream.columns ?? 120) - 1)}`);
      if (done >= total) stream.write('\n');
    } else if (done >= total || done - lastLine >= every || lastLine < 0) {
      lastLine = done;
      stream.write(text + '\n');
    }
  };
}
