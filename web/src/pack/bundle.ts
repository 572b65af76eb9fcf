import { gzip, type PackEntry, tarOf } from './tar.js';

export type BundleType = 'application/gzip' | 'application/x-tar' | 'application/zip';
export interface Bundle {
  blob: Blob;
  contentType: BundleType;
  label: string;
}

/** Version-control data and OS litter make a bundle bigger and never help it run. */
const SKIP = /(^|\/)(\.git|\.DS_Store|Thumbs\.db)(\/|$)/;

export function archiveType(name: string): BundleType | null {
  const n = name.toLowerCase();
  if (n.endsWith('.zip')) return 'application/zip';
  if (n.endsWith('.tar.gz') || n.endsWith('.tgz')) return 'application/gzip';
  if (n.endsWith('.tar')) return 'application/x-tar';
  return null;
}

/** Packs loose files (a folder's contents, paths relative to it) into a .tar.gz. */
export async function packFiles(entries: PackEntry[], label: string): Promise<Bundle> {
  const kept = entries.filter((e) => !SKIP.test(e.path));
  if (kept.length === 0) throw new Error('the folder has no files to deploy');
  return {
    blob: await gzip(await tarOf(kept)),
    contentType: 'application/gzip',
    label: `${label} (${kept.length} files, packed here)`,
  };
}

/** Files from a folder picker (`webkitdirectory`): paths start with the folder's own name. */
export async function bundleFromFileList(files: FileList): Promise<Bundle> {
  const list = [...files];
  const only = list[0];
  if (list.length === 1 && only && !only.webkitRelativePath.includes('/')) {
    const type = archiveType(only.name);
    if (type) return { blob: only, contentType: type, label: only.name };
  }
  const entries = list.map((f) => ({ path: f.webkitRelativePath || f.name, data: f, mtime: f.lastModified }));
  const root = list[0]?.webkitRelativePath.split('/')[0] || 'files';
  return packFiles(entries, root);
}

/** What was dropped: one archive is sent as is; a folder or loose files are packed. */
export async function bundleFromDrop(dt: DataTransfer): Promise<Bundle> {
  const roots = [...dt.items]
    .filter((i) => i.kind === 'file')
    .map((i) => i.webkitGetAsEntry())
    .filter((e): e is FileSystemEntry => e !== null);
  const first = roots[0];
  if (roots.length === 1 && first?.isFile) {
    const file = await fileOf(first as FileSystemFileEntry);
    const type = archiveType(file.name);
    if (type) return { blob: file, contentType: type, label: file.name };
  }
  if (roots.length === 0) {
    const files = [...dt.files];
    const f = files[0];
    if (files.length === 1 && f && archiveType(f.name))
      return { blob: f, contentType: archiveType(f.name)!, label: f.name };
    throw new Error('nothing that can be deployed was dropped');
  }
  const entries: PackEntry[] = [];
  for (const r of roots) await walk(r, '', entries);
  return packFiles(entries, roots.length === 1 && first ? first.name : `${roots.length} items`);
}

async function walk(entry: FileSystemEntry, dir: string, out: PackEntry[]): Promise<void> {
  const path = dir ? `${dir}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const f = await fileOf(entry as FileSystemFileEntry);
    out.push({ path, data: f, mtime: f.lastModified });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns a batch at a time (about 100 in Chromium) until it returns none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, path, out);
  }
}

const fileOf = (e: FileSystemFileEntry): Promise<File> => new Promise((res, rej) => e.file(res, rej));
