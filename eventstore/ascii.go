package eventstore

import (
	"fmt"
	"unicode/utf8"
)

// ASCIIJSON returns the JSON document doc with every non-ASCII character escaped as \uXXXX
// (a surrogate pair above U+FFFF), so that a message body is plain ASCII. SQS and SNS
// refuse some characters that valid strings may hold (U+FFFF, U+FFFE) and the local
// emulators refuse more (emoji); escaped, any valid string travels, and decodes back to
// the same string. doc must be valid UTF-8; outside strings JSON has no non-ASCII bytes.
func ASCIIJSON(doc []byte) ([]byte, error) {
	n := 0
	for _, b := range doc {
		if b >= utf8.RuneSelf {
			n++
		}
	}
	if n == 0 {
		return doc, nil
	}
	out := make([]byte, 0, len(doc)+n*4)
	for i := 0; i < len(doc); {
		b := doc[i]
		if b < utf8.RuneSelf {
			out = append(out, b)
			i++
			continue
		}
		r, size := utf8.DecodeRune(doc[i:])
		if r == utf8.RuneError && size <= 1 {
			return nil, fmt.Errorf("eventstore: JSON is not valid UTF-8 at byte %d", i)
		}
		if r > 0xFFFF {
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out, nil
}
