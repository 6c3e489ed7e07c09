#!/usr/bin/env python3
"""Checks a trimmed copy of the pinned llama.cpp source without git history.

A listing is `git ls-tree -r --full-tree HEAD` of the pinned commit: one "MODE TYPE SHA<TAB>PATH" line per file.
  tree LISTING          prints the git tree hash the listing describes (compare it with the pinned tree hash)
  verify LISTING DIR    checks that every file under DIR is in the listing with the same git blob hash and mode
                        (a file added, changed or made executable fails), and prints how many were checked
Git's own object formats: a blob is sha1("blob <size>\\0" + bytes); a tree lists "<mode> <name>\\0<20-byte sha>"
entries sorted by name, a sub-tree compared as if its name ended in "/".
"""
import hashlib
import os
import stat
import sys


def read_listing(path):
    entries = {}
    with open(path, 'rb') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip(b'\n')
            if not line:
                continue
            try:
                meta, name = line.split(b'\t', 1)
                mode, kind, sha = meta.split(b' ')
            except ValueError:
                sys.exit(f'{path}:{n}: not a git ls-tree line')
            if kind not in (b'blob', b'commit') or len(sha) != 40:
                sys.exit(f'{path}:{n}: unexpected entry {kind.decode()} {sha.decode()}')
            entries[name] = (mode, kind, sha)
    if not entries:
        sys.exit(f'{path}: empty listing')
    return entries


def tree_hash(entries):
    root = {}
    for name, (mode, _kind, sha) in entries.items():
        node = root
        parts = name.split(b'/')
        for d in parts[:-1]:
            node = node.setdefault(d, {})
        node[parts[-1]] = (mode, sha)

    def write(node):
        items = []
        for name, value in node.items():
            if isinstance(value, dict):
                items.append((name + b'/', b'40000', bytes.fromhex(write(value))))
            else:
                items.append((name, value[0], bytes.fromhex(value[1].decode())))
        items.sort(key=lambda e: e[0])
        body = b''.join(mode + b' ' + name.rstrip(b'/') + b'\0' + sha for name, mode, sha in items)
        return hashlib.sha1(b'tree %d\0' % len(body) + body).hexdigest()

    return write(root)


def blob_hash(data):
    return hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()


def verify(entries, top):
    checked = 0
    problems = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for fn in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, top).encode()
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                data, mode = os.readlink(full).encode(), b'120000'
            else:
                with open(full, 'rb') as f:
                    data = f.read()
                mode = b'100755' if st.st_mode & 0o111 else b'100644'
            want = entries.get(rel)
            if want is None:
                problems.append(f'{rel.decode()}: not in the pinned tree')
            elif want[0] != mode or want[2].decode() != blob_hash(data):
                problems.append(f'{rel.decode()}: differs from the pinned tree')
            checked += 1
    if problems:
        sys.exit('the source does not match its listing:\n  ' + '\n  '.join(problems[:20]))
    if checked == 0:
        sys.exit(f'{top}: no files')
    print(checked)


def main(argv):
    if len(argv) == 3 and argv[1] == 'tree':
        print(tree_hash(read_listing(argv[2])))
    elif len(argv) == 4 and argv[1] == 'verify':
        verify(read_listing(argv[2]), argv[3])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
