//! Cutting text into the terms the full-text index stores, and a keyword into
//! the terms it looks for.
//!
//! Chinese and Japanese are written without spaces, so no tokenizer can find
//! word boundaries without a dictionary, and a dictionary segmenter misses
//! every word it cuts differently from the reader (历史 inside 历史学家 may
//! come out as one word). Instead, every run of CJK characters is stored
//! twice:
//!
//! - as overlapping bigrams in reading order (`三国演义` gives `三国 国演 演义`),
//!   closed by the run's last character alone (`义`), which keeps the bigrams
//!   of two runs from ever looking adjacent;
//! - then, after all the bigrams of the field, as single characters.
//!
//! A keyword of two or more CJK characters becomes the phrase of its bigrams,
//! which matches exactly where the characters stand side by side; a keyword
//! of one character is that character as a whole term. Both are plain term
//! look-ups (never prefix scans, which are slow for a common character), and
//! both find every text that contains the keyword as a substring.
//!
//! Runs of other letters and digits are lowercased words. A hyphen between
//! two digits is dropped, so `978-7-5428-2382-3` and `9787542823823` are the
//! same ISBN. Fullwidth ASCII (`ＡＢＣ１２３`), common in Chinese text, is read
//! as ASCII. Everything else separates terms.

/// One thing a keyword asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A lowercased word of letters or digits.
    Word(String),
    /// A run of CJK characters, as typed.
    Cjk(String),
}

impl Term {
    /// The text as it appears in a catalog field (after [`fold`]).
    pub fn text(&self) -> &str {
        match self {
            Term::Word(s) | Term::Cjk(s) => s,
        }
    }

    /// The index tokens that must stand in a row for this term to match: the
    /// word itself, the single character, or the bigrams of the run.
    pub fn tokens(&self) -> Vec<String> {
        match self {
            Term::Word(w) => vec![w.clone()],
            Term::Cjk(run) => {
                let chars: Vec<char> = run.chars().collect();
                if chars.len() == 1 {
                    return vec![run.clone()];
                }
                chars.windows(2).map(|w| w.iter().collect()).collect()
            }
        }
    }
}

/// Whether `c` belongs to a script written without spaces: Han ideographs,
/// kana, Hangul. Punctuation in those blocks (such as `・`) does not.
pub fn is_cjk(c: char) -> bool {
    let cp = c as u32;
    let block = matches!(cp,
        0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x323AF  // CJK Extensions B to H
        | 0x3007             // 〇
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0xAC00..=0xD7AF); // Hangul syllables
    block && c.is_alphanumeric()
}

/// One character as the index sees it: fullwidth ASCII as ASCII, then
/// lowercased. Always exactly one character, so positions in the folded
/// text are positions in the original.
pub fn fold(c: char) -> char {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    if has_no_case(c) {
        return c;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Whether `c` lies in the blocks of CJK punctuation, kana and ideographs
/// (U+3000 to U+9FFF) or of Hangul syllables, none of which has a lowercase
/// form. Most of the catalog's text is there, and the general lowercase
/// look-up is a search of a table.
pub fn has_no_case(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x9FFF | 0xAC00..=0xD7AF)
}

/// Splits `text` into terms in reading order.
pub fn terms(text: &str) -> Vec<Term> {
    let chars: Vec<char> = text.chars().map(fold).collect();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if is_cjk(c) {
            while i < chars.len() && is_cjk(chars[i]) {
                i += 1;
            }
            terms.push(Term::Cjk(chars[start..i].iter().collect()));
        } else if c.is_alphanumeric() {
            let mut word = String::new();
            while i < chars.len() && is_word_char(&chars, i) {
                if chars[i] != '-' {
                    word.push(chars[i]);
                }
                i += 1;
            }
            terms.push(Term::Word(word));
        } else {
            i += 1;
        }
    }
    terms
}

/// Whether `chars[i]` continues a word: a letter or digit that is not CJK,
/// or a hyphen between two digits.
fn is_word_char(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    if c == '-' {
        let digit = |j: Option<&char>| j.is_some_and(char::is_ascii_digit);
        return i > 0 && digit(chars.get(i - 1)) && digit(chars.get(i + 1));
    }
    c.is_alphanumeric() && !is_cjk(c)
}

/// The text the index stores for one field: its words and CJK bigrams in
/// reading order, each CJK run closed by its last character, then every CJK
/// character alone. Tokens are separated by spaces.
pub fn index_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    let mut singles = String::new();
    for term in terms(text) {
        match &term {
            Term::Word(w) => push(&mut out, w),
            Term::Cjk(run) => {
                let chars: Vec<char> = run.chars().collect();
                for pair in chars.windows(2) {
                    push(&mut out, &pair.iter().collect::<String>());
                }
                push(&mut out, &chars[chars.len() - 1].to_string());
                for c in chars {
                    push(&mut singles, &c.to_string());
                }
            }
        }
    }
    push(&mut out, &singles);
    out
}

fn push(out: &mut String, token: &str) {
    if token.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(token);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_said_to_have_no_case_have_none() {
        let said = (0x3000..=0x9FFF).chain(0xAC00..=0xD7AF);
        for c in said.filter_map(char::from_u32) {
            assert!(has_no_case(c));
            assert_eq!(c.to_lowercase().collect::<String>(), c.to_string(), "{c:?}");
        }
    }

    #[test]
    fn a_cjk_run_becomes_bigrams_its_last_character_then_single_characters() {
        assert_eq!(index_text("三国演义"), "三国 国演 演义 义 三 国 演 义");
        assert_eq!(index_text("书"), "书 书");
    }

    #[test]
    fn runs_of_different_scripts_are_cut_apart() {
        assert_eq!(
            index_text("Rust编程，第2版"),
            "rust 编程 程 第 2 版 编 程 第 版"
        );
    }

    #[test]
    fn words_are_lowercased_and_fullwidth_ascii_is_ascii() {
        assert_eq!(
            index_text("Harry POTTER ＡＢＣ１２３"),
            "harry potter abc123"
        );
    }

    #[test]
    fn hyphens_between_digits_are_dropped_so_isbns_match_either_way() {
        assert_eq!(index_text("ISBN 978-7-5428-2382-3"), "isbn 9787542823823");
        assert_eq!(index_text("well-known 1-"), "well known 1");
    }

    #[test]
    fn punctuation_in_cjk_blocks_separates_runs() {
        assert_eq!(index_text("蜜尔・泰勒"), "蜜尔 尔 泰勒 勒 蜜 尔 泰 勒");
    }

    #[test]
    fn keyword_terms_give_the_tokens_that_must_stand_in_a_row() {
        let t = terms("历史 Rust三国演义");
        assert_eq!(
            t,
            [
                Term::Cjk("历史".into()),
                Term::Word("rust".into()),
                Term::Cjk("三国演义".into())
            ]
        );
        assert_eq!(t[0].tokens(), ["历史"]);
        assert_eq!(t[2].tokens(), ["三国", "国演", "演义"]);
        assert_eq!(terms("三")[0].tokens(), ["三"]);
    }

    #[test]
    fn text_with_no_letters_has_no_terms() {
        assert!(terms("\"*-() NEAR/,。！").len() == 1); // NEAR is a word
        assert!(terms("\"*-(),。！ ").is_empty());
    }
}
