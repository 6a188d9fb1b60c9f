#!/bin/sh
# Rebuild evals/dev/corpora/ from files that Debian packages install (Debian 12 "bookworm").
# The copies are committed; this script documents where each one came from and lets anyone
# regenerate them (e.g. to check that nothing was edited by hand):
#
#   sh evals/dev/build_corpora.sh            # rewrite the corpora in place
#   git diff --stat evals/dev/corpora        # nothing should change on a bookworm machine
#
# Packages needed: base-files (common-licenses), base-passwd, python3 (python-policy.html),
# libffi8, zstd, systemd, python3-pip, python3-httplib2, man-db, postgresql-common,
# gzip, sed, grep, diffutils, patch, make (man pages), groff-base, libtasn1-doc, shared-mime-info
# (PDF manuals). Nothing is downloaded.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
C="$here/corpora"
L="$here/licenses"
D=/usr/share/doc
mkdir -p "$C/legal_txt" "$C/html_manual" "$C/markdown" "$C/text_manual" "$C/pdf_manual" "$L"

# 1. legal_txt: hard-wrapped plain-text licences (package base-files).
for f in Apache-2.0 Artistic BSD CC0-1.0 GPL-3 LGPL-3 MPL-2.0; do
  cp /usr/share/common-licenses/$f "$C/legal_txt/$f.txt"
done
cp $D/base-files/copyright "$L/base-files.copyright"

# 2. html_manual: HTML manuals from three generators (Sphinx, DocBook, Texinfo).
cp $D/python3/python-policy.html            "$C/html_manual/python-policy.html"
cp $D/base-passwd/users-and-groups.html     "$C/html_manual/users-and-groups.html"
for p in Introduction The-Basics Primitive-Types The-Closure-API Thread-Safety Missing-Features; do
  cp $D/libffi8/html/$p.html "$C/html_manual/libffi-$p.html"
done
cp $D/python3/copyright     "$L/python3.copyright"
cp $D/base-passwd/copyright "$L/base-passwd.copyright"
cp $D/libffi8/copyright     "$L/libffi8.copyright"

# 3. markdown: READMEs and docs in Markdown (ATX + setext headings, lists, code, tables).
zcat -f $D/zstd/README.md.gz                               > "$C/markdown/zstd-README.md"
zcat -f $D/systemd/UIDS-GIDS.md.gz                         > "$C/markdown/systemd-UIDS-GIDS.md"
zcat -f $D/python3-pip/html/topics/caching.md.gz           > "$C/markdown/pip-caching.md"
zcat -f $D/python3-pip/html/topics/vcs-support.md.gz       > "$C/markdown/pip-vcs-support.md"
zcat -f $D/python3-pip/html/topics/repeatable-installs.md  > "$C/markdown/pip-repeatable-installs.md"
zcat -f $D/python3-httplib2/README.md                      > "$C/markdown/httplib2-README.md"
zcat -f $D/man-db/README.md.gz                             > "$C/markdown/man-db-README.md"
zcat -f $D/postgresql-common/README.md.gz                  > "$C/markdown/postgresql-common-README.md"
for p in zstd systemd python3-pip python3-httplib2 man-db postgresql-common; do
  cp $D/$p/copyright "$L/$p.copyright"
done

# 4. text_manual: man pages rendered to plain text, ASCII, 80 columns, no hyphenation/justification.
for p in gzip:gzip sed:sed grep:grep diff:diffutils patch:patch make:make; do
  page=${p%%:*}; pkg=${p#*:}
  LC_ALL=C MANWIDTH=80 MAN_KEEP_FORMATTING=0 man --nh --nj -P cat "$page" 2>/dev/null \
    | col -bx > "$C/text_manual/$page.1.txt"
  cp $D/$pkg/copyright "$L/$pkg.copyright"
done
# 5. pdf_manual: PDF manuals as Debian ships them (Texinfo/pdfTeX and DocBook/LaTeX), copied unchanged.
cp $D/libtasn1-doc/libtasn1.pdf                "$C/pdf_manual/libtasn1.pdf"
cp $D/shared-mime-info/shared-mime-info-spec.pdf "$C/pdf_manual/shared-mime-info-spec.pdf"
cp $D/libtasn1-doc/copyright     "$L/libtasn1-doc.copyright"
cp $D/shared-mime-info/copyright "$L/shared-mime-info.copyright"
du -sh "$C"/*
