/**
 * The bundle's names as a tree of segments, mirroring what the writer put on disk. Walking a name
 * costs one map lookup per segment, so every question the writer asks ("is a parent a symlink?",
 * "does this folder exist?", "where does this link lead?") is linear in the name, never in the
 * number of prefixes times their length.
 */

export type PathNode = DirNode | FileNode | LinkNode;
interface BaseNode {
  /** undefined for the root only. */
  parent: DirNode | undefined;
  /** Segments from the archive root: the root is 0. */
  depth: number;
}
export interface DirNode extends BaseNode {
  kind: 'dir';
  children: Map<string, PathNode>;
}
export interface FileNode extends BaseNode {
  kind: 'file';
}
export interface LinkNode extends BaseNode {
  kind: 'link';
  target: string;
  /** The entry's name as the archive root sees it, for messages. */
  path: string;
}

export type LinkVerdict = 'inside' | 'outside' | 'loop';

/** What Linux allows before ELOOP; here the depth of links resolved inside one another. */
const MAX_NESTED_LINKS = 40;

export class PathTree {
  readonly root: DirNode = { kind: 'dir', parent: undefined, depth: 0, children: new Map() };
  readonly links: LinkNode[] = [];

  /** Adds a child of `parent`; the caller has checked that the name is free. */
  add(
    parent: DirNode,
    name: string,
    node: { kind: 'dir' } | { kind: 'file' } | { kind: 'link'; target: string; path: string },
  ): PathNode {
    const base = { parent, depth: parent.depth + 1 };
    const created: PathNode =
      node.kind === 'dir' ? { ...base, kind: 'dir', children: new Map() } : { ...base, ...node };
    parent.children.set(name, created);
    if (created.kind === 'link') this.links.push(created);
    return created;
  }

  /** The node at `segments`, walking real folders only (a symlink on the way means: not a plain path). */
  get(segments: readonly string[]): PathNode | undefined {
    let node: PathNode = this.root;
    for (const s of segments) {
      if (node.kind !== 'dir') return undefined;
      const next = node.children.get(s);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  /** The single top-level folder when it is the only thing at the root (a wrapping folder to strip). */
  wrappingFolder(): string | undefined {
    if (this.root.children.size !== 1) return undefined;
    const [name, node] = [...this.root.children][0]!;
    return node.kind === 'dir' ? name : undefined;
  }

  /**
   * A resolver over the finished tree that answers where each symlink leads, the way the kernel
   * would walk it but over the archive's own links. `rootDepth` is 1 when a wrapping folder will
   * be stripped: climbing to the archive root is then already outside the bundle. Results are
   * memoised per link, so all links together cost the sum of their targets' lengths.
   */
  linkResolver(rootDepth: number): (link: LinkNode) => LinkVerdict {
    const memo = new Map<LinkNode, Resolution | 'pending'>();
    const resolve = (link: LinkNode, nesting: number): Resolution => {
      const known = memo.get(link);
      if (known === 'pending') return 'loop';
      if (known !== undefined) return known;
      if (nesting > MAX_NESTED_LINKS) return 'loop';
      memo.set(link, 'pending');
      const result = walk(link, nesting);
      memo.set(link, result);
      return result;
    };
    const walk = (link: LinkNode, nesting: number): Resolution => {
      if (link.target.startsWith('/')) return 'outside';
      // Where we are: a node of the tree, plus segments below it that the archive does not hold
      // (a dangling target); those are walked lexically, as they can hold no links.
      let node: PathNode = link.parent!;
      let missing = 0;
      // Segment by segment without splitting the whole target: no array of thousands of strings per link.
      const target = link.target;
      for (let start = 0, end = 0; start <= target.length; start = end + 1) {
        end = target.indexOf('/', start);
        if (end === -1) end = target.length;
        const segment = target.slice(start, end);
        if (segment === '' || segment === '.') continue;
        if (segment === '..') {
          if (missing > 0) missing--;
          else if (node.depth <= rootDepth) return 'outside';
          else node = node.parent!;
          continue;
        }
        if (missing > 0 || node.kind !== 'dir') {
          missing++;
          continue;
        }
        const next = node.children.get(segment);
        if (!next) {
          missing = 1;
        } else if (next.kind === 'link') {
          const to = resolve(next, nesting + 1);
          if (typeof to === 'string') return to;
          ({ node, missing } = to);
        } else {
          node = next;
        }
      }
      return { node, missing };
    };
    return (link) => {
      const r = resolve(link, 0);
      return typeof r === 'string' ? r : 'inside';
    };
  }
}

type Resolution = 'outside' | 'loop' | { node: PathNode; missing: number };
