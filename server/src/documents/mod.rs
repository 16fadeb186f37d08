//! Visitor documents: NDA and safety-briefing templates, signatures, signed copies (issue 13 item 5).
