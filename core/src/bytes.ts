/** A byte count as messages show it: `512 B`, `1.5 KiB`, `4 MiB`, `2 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} GiB`;
}
