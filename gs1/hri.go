package gs1

// ParseHRI parses the bracketed human-readable form, e.g.
// "(01)09506000134352(17)201225(10)ABC123(21)12345", optionally preceded by
// an AIM symbology identifier. The position of an AI in this form is that
// of its opening bracket.
//
// Because "(" and ")" are themselves characters of character set 82, a value
// ends at the next "(" that is followed by 2 to 4 digits and ")"; a lot such
// as "A(10)B" cannot be written in this form. Such a bracket must hold an
// assigned AI: "(10)ABC(89)XYZ" is rejected (AI 89 is not assigned) rather
// than read as lot "ABC(89)XYZ", as GS1's Syntax Engine does.
func (p *Parser) ParseHRI(s string) (Scan, error) {
	st := state{p: *p, s: s}
	sc := &st.sc
	i := 0
	if len(s) >= 3 && s[0] == ']' {
		sc.Symbology = s[:3]
		i = 3
	}
	if err := st.hri(i, len(s)); err != nil {
		return Scan{}, err
	}
	return st.sc, nil
}

// ParseHRI parses the bracketed form with default settings.
func ParseHRI(s string) (Scan, error) { var p Parser; return p.ParseHRI(s) }

func (st *state) hri(i, end int) error {
	s := st.s
	st.sc.Form = FormHRI
	start := i
	if i >= end {
		return perr(i, "", ErrEmpty, "no data")
	}
	for i < end {
		if s[i] != '(' {
			return perr(i, "", ErrSyntax, charDesc(s, i)+" where \"(\" and an AI were expected")
		}
		j := i + 1
		for j < end && j < i+6 && isDigit(s[j]) {
			j++
		}
		if j >= end || s[j] != ')' || j-i-1 < 2 || j-i-1 > 4 {
			return perr(i, "", ErrSyntax, "expected an AI of 2 to 4 digits in brackets")
		}
		ai := s[i+1 : j]
		idx := lookupIndex(ai)
		if idx == 0 {
			msg := "\"" + ai + "\" is not an assigned Application Identifier"
			if i > start {
				msg += " (in the bracketed form \"(\", 2 to 4 digits and \")\" always start a new AI, so it cannot be part of the previous value)"
			}
			return perr(i, "", ErrUnknownAI, msg)
		}
		def := &aiDefs[idx-1]
		vs := j + 1
		ve := vs
		for ve < end && !(s[ve] == '(' && hriAIAt(s, ve, end)) {
			ve++
		}
		if err := st.checkValue(def, ai, i, s[vs:ve], vs); err != nil {
			return err
		}
		if err := st.addElement(idx, Element{AI: ai, Value: s[vs:ve], Pos: i}); err != nil {
			return err
		}
		i = ve
	}
	if err := st.associations(); err != nil {
		return err
	}
	st.capsLock()
	return nil
}

// hriAIAt reports whether s[k:] starts with "(", 2 to 4 digits and ")":
// the start of the next element, whether or not the AI is assigned.
func hriAIAt(s string, k, end int) bool {
	j := k + 1
	for j < end && j < k+6 && isDigit(s[j]) {
		j++
	}
	return j < end && s[j] == ')' && j-k-1 >= 2 && j-k-1 <= 4
}
