#!/usr/bin/env python3
"""Turns a file into a C source defining it as a byte array NAME and its
length NAME_len (a string literal this long would trip
-Woverlength-strings).  A .c rather than a header, so that the file that
uses it includes nothing generated (t/layers.py runs cc -MM on the
source tree)."""
import sys

src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, 'rb').read()
with open(dst, 'w') as f:
    f.write('/* Generated from %s by broker/embed.py; do not edit. */\n'
            % src.rsplit('/', 1)[-1])
    f.write('#include <stddef.h>\n\n')
    f.write('extern const char %s[];\nextern const size_t %s_len;\n\n'
            % (name, name))
    f.write('const char %s[] = {\n' % name)
    for i in range(0, len(data), 12):
        f.write('\t' + ', '.join('0x%02x' % b for b in data[i:i + 12]) + ',\n')
    f.write('};\nconst size_t %s_len = %d;\n' % (name, len(data)))
