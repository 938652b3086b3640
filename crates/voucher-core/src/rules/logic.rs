//! The `logic` of one level of rules: an expression such as `"(1 and 2) or
//! 3"` over rule numbers, with `and` binding tighter than `or`, operators in
//! any case and parentheses nested at most [`RULE_LOGIC_NESTING_MAX`] deep.
//!
//! The parser takes arbitrary text (it is a fuzz target): it never panics, its
//! recursion is bounded by the nesting limit, and every malformed input is a
//! typed [`LogicError`] that names a byte offset. A parsed [`Logic`] is
//! normalised (`(1 and 2) and 3` is one `and` of three rules, `(1)` is rule 1),
//! so that formatting it and parsing the text again gives the same value.

use std::fmt;

use crate::limits::{RULE_LOGIC_LEN_MAX, RULE_LOGIC_NESTING_MAX, RULE_NUMBER_MAX};

// The results of one level's rules fit a `u64` mask, one bit per number.
const _: () = assert!(RULE_NUMBER_MAX >= 1 && RULE_NUMBER_MAX <= 64);

/// The number of a rule within its level: `"1"` ..= `"64"` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleNumber(u8);

impl RuleNumber {
    /// The number `n` if it is in `1..=RULE_NUMBER_MAX`.
    pub fn new(n: u32) -> Option<RuleNumber> {
        if n >= 1 && n as usize <= RULE_NUMBER_MAX {
            u8::try_from(n).ok().map(RuleNumber)
        } else {
            None
        }
    }

    /// Parses the canonical decimal text of a rule number: digits only, no
    /// sign, no leading zero, within `1..=RULE_NUMBER_MAX`.
    pub fn parse(text: &str) -> Option<RuleNumber> {
        let bytes = text.as_bytes();
        let canonical = !bytes.is_empty()
            && bytes.len() <= 3
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes.first() != Some(&b'0');
        if !canonical {
            return None;
        }
        let n = bytes
            .iter()
            .fold(0u32, |n, digit| n * 10 + u32::from(digit - b'0'));
        RuleNumber::new(n)
    }

    /// The number as an integer.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// This rule's bit in a level's mask of results.
    pub(crate) fn bit(self) -> u64 {
        1u64 << (self.0 - 1)
    }
}

impl fmt::Display for RuleNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a `logic` expression could not be parsed. Offsets are in bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogicError {
    /// The expression is empty or only white space.
    #[error("logic is empty")]
    Empty,
    /// The expression is longer than [`RULE_LOGIC_LEN_MAX`] bytes.
    #[error("logic is longer than {RULE_LOGIC_LEN_MAX} bytes")]
    TooLong,
    /// A character that is no digit, letter, parenthesis or white space.
    #[error("unexpected character at byte {at}")]
    UnexpectedCharacter {
        /// Offset of the character.
        at: usize,
    },
    /// A word other than `and` or `or`.
    #[error("unknown word at byte {at}")]
    UnknownWord {
        /// Offset of the word.
        at: usize,
    },
    /// Digits that are no rule number (`0`, `007`, `65`, ...).
    #[error("invalid rule number at byte {at}")]
    InvalidRuleNumber {
        /// Offset of the digits.
        at: usize,
    },
    /// A rule number or `(` was expected.
    #[error("expected a rule number or `(` at byte {at}")]
    ExpectedOperand {
        /// Offset of the token found (the length of the text at its end).
        at: usize,
    },
    /// `and`, `or` or the end was expected.
    #[error("expected `and` or `or` at byte {at}")]
    ExpectedOperator {
        /// Offset of the token found.
        at: usize,
    },
    /// A `(` is never closed.
    #[error("unclosed parenthesis at byte {at}")]
    UnclosedParenthesis {
        /// Offset of the `(`.
        at: usize,
    },
    /// A `)` closes nothing.
    #[error("unmatched `)` at byte {at}")]
    UnmatchedParenthesis {
        /// Offset of the `)`.
        at: usize,
    },
    /// Parentheses nest deeper than [`RULE_LOGIC_NESTING_MAX`].
    #[error("parentheses nested deeper than {RULE_LOGIC_NESTING_MAX}")]
    TooDeep,
}

/// A parsed, normalised `logic` expression.
#[derive(Clone, PartialEq, Eq)]
pub struct Logic {
    node: Node,
}

/// `And` and `Or` have at least two children, none of them of the same kind
/// (nested groups of one operator are flattened).
#[derive(Clone, PartialEq, Eq)]
enum Node {
    Rule(RuleNumber),
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl Logic {
    /// Parses a `logic` expression. Empty text is [`LogicError::Empty`]; the
    /// rule set treats a missing or empty `logic` as all rules `and`ed.
    pub fn parse(text: &str) -> Result<Logic, LogicError> {
        if text.len() > RULE_LOGIC_LEN_MAX {
            return Err(LogicError::TooLong);
        }
        let tokens = tokenize(text)?;
        if tokens.len() == 1 {
            return Err(LogicError::Empty);
        }
        let mut parser = Parser { tokens, next: 0 };
        let node = parser.or(0)?;
        let (token, at) = parser.take();
        match token {
            Token::End => Ok(Logic { node }),
            Token::Close => Err(LogicError::UnmatchedParenthesis { at }),
            _ => Err(LogicError::ExpectedOperator { at }),
        }
    }

    /// All of `rules`, `and`ed, in the order given; `None` when there are
    /// none (an empty level holds).
    pub fn all_of(rules: &[RuleNumber]) -> Option<Logic> {
        match rules {
            [] => None,
            [one] => Some(Logic {
                node: Node::Rule(*one),
            }),
            many => Some(Logic {
                node: Node::And(many.iter().map(|n| Node::Rule(*n)).collect()),
            }),
        }
    }

    /// Evaluates the expression, asking `rule` for each rule's result as it
    /// is needed (`and` and `or` short-circuit from left to right).
    pub fn eval(&self, rule: &mut impl FnMut(RuleNumber) -> bool) -> bool {
        self.node.eval(rule)
    }

    /// The value of the expression when the rules whose bits are set in
    /// `truth` hold and the others fail.
    pub fn eval_mask(&self, truth: u64) -> bool {
        self.node.blame(truth).is_none()
    }

    /// The rule to blame when the expression is false under `truth` (bit
    /// `n - 1` set when rule `n` holds), or `None` when it is true. The blame
    /// goes to the lowest-numbered false rule among those that make the
    /// expression false: a false rule blames itself; a false `and` takes
    /// the lowest blame of its false operands; a false `or` takes the lowest
    /// blame of all of its operands. So `1 or 2` with both false blames 1,
    /// and `1 and 2` with only 2 false blames 2.
    pub fn blame(&self, truth: u64) -> Option<RuleNumber> {
        self.node.blame(truth)
    }

    /// The mask of the rule numbers the expression mentions.
    pub fn mentioned(&self) -> u64 {
        self.node.mentioned()
    }
}

impl Node {
    fn eval(&self, rule: &mut impl FnMut(RuleNumber) -> bool) -> bool {
        match self {
            Node::Rule(n) => rule(*n),
            Node::And(children) => children.iter().all(|c| c.eval(rule)),
            Node::Or(children) => children.iter().any(|c| c.eval(rule)),
        }
    }

    fn blame(&self, truth: u64) -> Option<RuleNumber> {
        match self {
            Node::Rule(n) => (truth & n.bit() == 0).then_some(*n),
            // The blames of the false operands; `None` when all hold.
            Node::And(children) => children.iter().filter_map(|c| c.blame(truth)).min(),
            Node::Or(children) => {
                let mut lowest: Option<RuleNumber> = None;
                for child in children {
                    let blame = child.blame(truth)?;
                    lowest = Some(lowest.map_or(blame, |l| l.min(blame)));
                }
                lowest
            }
        }
    }

    fn mentioned(&self) -> u64 {
        match self {
            Node::Rule(n) => n.bit(),
            Node::And(children) | Node::Or(children) => {
                children.iter().fold(0, |mask, c| mask | c.mentioned())
            }
        }
    }

    fn fmt_in(&self, f: &mut fmt::Formatter<'_>, inside_and: bool) -> fmt::Result {
        match self {
            Node::Rule(n) => write!(f, "{n}"),
            Node::And(children) => {
                for (i, child) in children.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    child.fmt_in(f, true)?;
                }
                Ok(())
            }
            Node::Or(children) => {
                if inside_and {
                    f.write_str("(")?;
                }
                for (i, child) in children.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    child.fmt_in(f, false)?;
                }
                if inside_and {
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

/// The canonical text: ` and ` and ` or ` in lower case, parentheses only
/// around an `or` inside an `and`.
impl fmt::Display for Logic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt_in(f, false)
    }
}

impl fmt::Debug for Logic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Logic({self})")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Number(RuleNumber),
    And,
    Or,
    Open,
    Close,
    End,
}

/// Splits the text into tokens, each with its byte offset; the last token is
/// always [`Token::End`]. At most one token per byte, so bounded by the
/// length limit.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, LogicError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let start = at;
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => at += 1,
            b'(' => {
                tokens.push((Token::Open, start));
                at += 1;
            }
            b')' => {
                tokens.push((Token::Close, start));
                at += 1;
            }
            b'0'..=b'9' => {
                while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                    at += 1;
                }
                let digits = text.get(start..at).unwrap_or("");
                let number =
                    RuleNumber::parse(digits).ok_or(LogicError::InvalidRuleNumber { at: start })?;
                tokens.push((Token::Number(number), start));
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                while bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
                    at += 1;
                }
                let word = text.get(start..at).unwrap_or("");
                let token = if word.eq_ignore_ascii_case("and") {
                    Token::And
                } else if word.eq_ignore_ascii_case("or") {
                    Token::Or
                } else {
                    return Err(LogicError::UnknownWord { at: start });
                };
                tokens.push((token, start));
            }
            _ => return Err(LogicError::UnexpectedCharacter { at: start }),
        }
    }
    tokens.push((Token::End, text.len()));
    Ok(tokens)
}

/// A recursive-descent parser; `depth` counts open parentheses, so the
/// recursion is at most a few frames per nesting level.
struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Token {
        self.tokens
            .get(self.next)
            .map_or(Token::End, |(token, _)| *token)
    }

    fn take(&mut self) -> (Token, usize) {
        let taken = self
            .tokens
            .get(self.next)
            .copied()
            .unwrap_or((Token::End, 0));
        if taken.0 != Token::End {
            self.next += 1;
        }
        taken
    }

    fn or(&mut self, depth: usize) -> Result<Node, LogicError> {
        let mut terms = vec![self.and(depth)?];
        while self.peek() == Token::Or {
            self.take();
            terms.push(self.and(depth)?);
        }
        Ok(join(terms, Operator::Or))
    }

    fn and(&mut self, depth: usize) -> Result<Node, LogicError> {
        let mut factors = vec![self.factor(depth)?];
        while self.peek() == Token::And {
            self.take();
            factors.push(self.factor(depth)?);
        }
        Ok(join(factors, Operator::And))
    }

    fn factor(&mut self, depth: usize) -> Result<Node, LogicError> {
        match self.take() {
            (Token::Number(n), _) => Ok(Node::Rule(n)),
            (Token::Open, open) => {
                if depth >= RULE_LOGIC_NESTING_MAX {
                    return Err(LogicError::TooDeep);
                }
                let inner = self.or(depth + 1)?;
                match self.take() {
                    (Token::Close, _) => Ok(inner),
                    (Token::End, _) => Err(LogicError::UnclosedParenthesis { at: open }),
                    (_, at) => Err(LogicError::ExpectedOperator { at }),
                }
            }
            (Token::Close, at) => Err(LogicError::UnmatchedParenthesis { at }),
            (_, at) => Err(LogicError::ExpectedOperand { at }),
        }
    }
}

#[derive(Clone, Copy)]
enum Operator {
    And,
    Or,
}

/// One node of `operator` over `operands`, flattening operands of the same
/// operator; a single operand stands alone.
fn join(mut operands: Vec<Node>, operator: Operator) -> Node {
    if operands.len() == 1 {
        if let Some(only) = operands.pop() {
            return only;
        }
    }
    let mut flat = Vec::with_capacity(operands.len());
    for operand in operands {
        match (operator, operand) {
            (Operator::And, Node::And(children)) | (Operator::Or, Node::Or(children)) => {
                flat.extend(children)
            }
            (_, other) => flat.push(other),
        }
    }
    match operator {
        Operator::And => Node::And(flat),
        Operator::Or => Node::Or(flat),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn n(number: u32) -> RuleNumber {
        RuleNumber::new(number).unwrap()
    }

    /// Parses `text` and checks its canonical form.
    fn check(text: &str, expected: &str) {
        let logic = Logic::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(logic.to_string(), expected, "{text:?}");
    }

    fn check_error(text: &str, expected: LogicError) {
        assert_eq!(Logic::parse(text), Err(expected), "{text:?}");
    }

    /// The mask in which exactly the listed rules hold.
    fn truth(holding: &[u32]) -> u64 {
        holding.iter().fold(0, |mask, r| mask | n(*r).bit())
    }

    #[test]
    fn parses_precedence_parentheses_and_case() {
        check("1", "1");
        check("  7\t", "7");
        check("(1 and 2) or 3", "1 and 2 or 3");
        check("1 and 2 or 3", "1 and 2 or 3");
        check("1 or 2 and 3", "1 or 2 and 3");
        check("1 and (2 or 3)", "1 and (2 or 3)");
        check("(1 or 2) and (3 or 4)", "(1 or 2) and (3 or 4)");
        check("((1 and 2) and (3)) and 4", "1 and 2 and 3 and 4");
        check("(1 or (2 or (3 or 4)))", "1 or 2 or 3 or 4");
        check("((1) and (2)) and (3)", "1 and 2 and 3");
        check("1 AND 2 Or 3 aNd 4", "1 and 2 or 3 and 4");
        check("(1)and(2)", "1 and 2");
        check("64 or 1", "64 or 1");
        check("1 and 1", "1 and 1");
        check(
            "((((1 or 2) and 3) or 4) and 5)",
            "((1 or 2) and 3 or 4) and 5",
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let logic = Logic::parse("1 and 2 or 3").unwrap();
        assert!(logic.eval_mask(truth(&[3])));
        assert!(logic.eval_mask(truth(&[1, 2])));
        assert!(!logic.eval_mask(truth(&[1])));
        let logic = Logic::parse("1 or 2 and 3").unwrap();
        assert!(logic.eval_mask(truth(&[1])));
        assert!(!logic.eval_mask(truth(&[2])));
        assert!(logic.eval_mask(truth(&[2, 3])));
        let logic = Logic::parse("(1 or 2) and 3").unwrap();
        assert!(!logic.eval_mask(truth(&[1])));
        assert!(logic.eval_mask(truth(&[1, 3])));
    }

    #[test]
    fn refuses_malformed_logic() {
        check_error("", LogicError::Empty);
        check_error("  \t", LogicError::Empty);
        check_error("1 and", LogicError::ExpectedOperand { at: 5 });
        check_error("and 1", LogicError::ExpectedOperand { at: 0 });
        check_error("1 or or 2", LogicError::ExpectedOperand { at: 5 });
        check_error("1 2", LogicError::ExpectedOperator { at: 2 });
        check_error("(1 2)", LogicError::ExpectedOperator { at: 3 });
        check_error("(1 and 2", LogicError::UnclosedParenthesis { at: 0 });
        check_error("1 and 2)", LogicError::UnmatchedParenthesis { at: 7 });
        check_error(")", LogicError::UnmatchedParenthesis { at: 0 });
        check_error("()", LogicError::UnmatchedParenthesis { at: 1 });
        check_error("1 xor 2", LogicError::UnknownWord { at: 2 });
        check_error("1 && 2", LogicError::UnexpectedCharacter { at: 2 });
        check_error("1 and é", LogicError::UnexpectedCharacter { at: 6 });
        check_error("0", LogicError::InvalidRuleNumber { at: 0 });
        check_error("1 or 01", LogicError::InvalidRuleNumber { at: 5 });
        check_error("65", LogicError::InvalidRuleNumber { at: 0 });
        check_error(
            "99999999999999999999999",
            LogicError::InvalidRuleNumber { at: 0 },
        );
        check_error("-1", LogicError::UnexpectedCharacter { at: 0 });
    }

    #[test]
    fn bounds_length_and_nesting() {
        let deep = |levels: usize| format!("{}1{}", "(".repeat(levels), ")".repeat(levels));
        assert!(Logic::parse(&deep(RULE_LOGIC_NESTING_MAX)).is_ok());
        check_error(&deep(RULE_LOGIC_NESTING_MAX + 1), LogicError::TooDeep);
        check_error(&deep(500), LogicError::TooDeep);
        check_error(&deep(100_000), LogicError::TooLong);
        let long = vec!["1"; 400].join(" or ");
        check_error(&long, LogicError::TooLong);
        let longest = vec!["1"; 200].join(" or ");
        assert!(longest.len() <= RULE_LOGIC_LEN_MAX);
        assert!(Logic::parse(&longest).is_ok());
    }

    #[test]
    fn blames_the_lowest_numbered_rule_that_made_it_false() {
        let check_blame = |text: &str, holding: &[u32], expected: Option<u32>| {
            let logic = Logic::parse(text).unwrap();
            assert_eq!(
                logic.blame(truth(holding)).map(RuleNumber::get),
                expected,
                "{text} with {holding:?} holding"
            );
        };
        check_blame("1 or 2", &[], Some(1));
        check_blame("2 or 1", &[], Some(1));
        check_blame("1 and 2", &[1], Some(2));
        check_blame("1 and 2", &[], Some(1));
        check_blame("1 and 2", &[1, 2], None);
        check_blame("(1 and 2) or 3", &[1], Some(2));
        check_blame("(1 and 2) or 3", &[2], Some(1));
        check_blame("(1 and 2) or 3", &[3], None);
        // Rule 1 is false but the `or` it sits in holds: not to blame.
        check_blame("(1 or 2) and 3", &[2], Some(3));
        check_blame("(4 or 2) and (3 or 5)", &[3], Some(2));
        check_blame("5 and 4 and 3", &[5], Some(3));
    }

    #[test]
    fn all_of_ands_every_rule() {
        assert_eq!(Logic::all_of(&[]), None);
        let logic = Logic::all_of(&[n(1), n(3), n(2)]).unwrap();
        assert_eq!(logic.to_string(), "1 and 3 and 2");
        assert_eq!(logic.mentioned(), truth(&[1, 2, 3]));
        assert_eq!(Logic::all_of(&[n(4)]).unwrap().to_string(), "4");
    }

    #[test]
    fn eval_short_circuits_from_the_left() {
        let logic = Logic::parse("1 or (2 and 3)").unwrap();
        let mut asked = Vec::new();
        let result = logic.eval(&mut |r: RuleNumber| {
            asked.push(r.get());
            r.get() == 1
        });
        assert!(result);
        assert_eq!(asked, vec![1]);
    }

    #[test]
    fn rule_numbers_are_canonical() {
        let check_number = |text: &str, expected: Option<u32>| {
            assert_eq!(
                RuleNumber::parse(text).map(RuleNumber::get),
                expected,
                "{text:?}"
            );
        };
        check_number("1", Some(1));
        check_number("64", Some(64));
        check_number("65", None);
        check_number("0", None);
        check_number("01", None);
        check_number("+1", None);
        check_number("", None);
        check_number("1a", None);
        check_number("1000", None);
    }

    /// A reference expression: binary operators, evaluated directly.
    #[derive(Debug, Clone)]
    enum Expr {
        Rule(u32),
        And(Box<Expr>, Box<Expr>),
        Or(Box<Expr>, Box<Expr>),
    }

    impl Expr {
        fn eval(&self, truth: u64) -> bool {
            match self {
                Expr::Rule(r) => truth & (1 << (r - 1)) != 0,
                Expr::And(a, b) => a.eval(truth) && b.eval(truth),
                Expr::Or(a, b) => a.eval(truth) || b.eval(truth),
            }
        }
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = (1u32..=8).prop_map(Expr::Rule);
        leaf.prop_recursive(6, 48, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(a.into(), b.into())),
                (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(a.into(), b.into())),
            ]
        })
    }

    /// Rendering choices drawn from a seed: spacing, operator case and
    /// superfluous parentheses.
    struct Style(u64);

    impl Style {
        fn flip(&mut self) -> bool {
            // xorshift: deterministic per test case.
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % 4 == 0
        }

        fn space(&mut self) -> &'static str {
            if self.flip() {
                "  \t"
            } else {
                " "
            }
        }

        fn word(&mut self, lower: &'static str, upper: &'static str) -> &'static str {
            if self.flip() {
                upper
            } else {
                lower
            }
        }
    }

    /// Renders with the parentheses that precedence needs (an `or` inside an
    /// `and`) plus some drawn from the style.
    fn render(expr: &Expr, inside_and: bool, style: &mut Style) -> String {
        let text = match expr {
            Expr::Rule(r) => r.to_string(),
            Expr::And(a, b) => {
                let and = style.word("and", "AND");
                let (left, right) = (render(a, true, style), render(b, true, style));
                format!("{left}{}{and}{}{right}", style.space(), style.space())
            }
            Expr::Or(a, b) => {
                let or = style.word("or", "Or");
                let (left, right) = (render(a, false, style), render(b, false, style));
                let text = format!("{left}{}{or}{}{right}", style.space(), style.space());
                if inside_and {
                    return format!("({text})");
                }
                text
            }
        };
        if style.flip() {
            format!("({text})")
        } else {
            text
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = Logic::parse(&text);
        }

        #[test]
        fn never_panics_on_logic_like_text(text in "[()0-9 aAnNdDoOrR\t]{0,300}") {
            if let Ok(logic) = Logic::parse(&text) {
                // A parsed expression formats and parses back to itself.
                prop_assert_eq!(Logic::parse(&logic.to_string()), Ok(logic));
            }
        }

        #[test]
        fn agrees_with_direct_evaluation(expr in expr(), truth in any::<u64>(), seed in 1u64..) {
            let text = render(&expr, false, &mut Style(seed));
            let logic = Logic::parse(&text).unwrap();
            let expected = expr.eval(truth);
            prop_assert_eq!(logic.eval_mask(truth), expected, "{}", text);
            prop_assert_eq!(logic.eval(&mut |r: RuleNumber| truth & r.bit() != 0), expected);
            match logic.blame(truth) {
                None => prop_assert!(expected),
                Some(blamed) => {
                    prop_assert!(!expected);
                    prop_assert!(truth & blamed.bit() == 0, "blamed a rule that holds");
                    prop_assert!(logic.mentioned() & blamed.bit() != 0);
                    // Making the blamed rule hold never makes things worse.
                    let better = Logic::parse(&text).unwrap().blame(truth | blamed.bit());
                    prop_assert!(better.is_none_or(|b| b > blamed));
                }
            }
        }

        #[test]
        fn format_then_parse_is_identity(expr in expr(), seed in 1u64..) {
            let logic = Logic::parse(&render(&expr, false, &mut Style(seed))).unwrap();
            prop_assert_eq!(Logic::parse(&logic.to_string()), Ok(logic));
        }
    }
}
