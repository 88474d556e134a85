"""Action grammars: each dialect's answer format as EBNF (and as one regular expression), for constrained decoding."""
