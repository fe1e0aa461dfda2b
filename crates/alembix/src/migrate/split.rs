//! Splitting a revision body into statements, so each runs (and fails) on its own with its line number.
//!
//! Understands what a naive split on `;` gets wrong: quoted strings and identifiers, line and block
//! comments (nested on PostgreSQL), PostgreSQL dollar quoting and `E''` strings, MySQL backslash escapes,
//! `#` comments and `DELIMITER`, and compound bodies (`CREATE TRIGGER … BEGIN … END`, MySQL procedures,
//! PostgreSQL `BEGIN ATOMIC … END`).

use crate::url::Dialect;

/// One statement of a body, without its terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    /// 1-based line within the body where the statement's first token is.
    pub line: usize,
}

/// Split `body` into statements. Empty statements (only whitespace and comments) are dropped.
pub fn split(body: &str, dialect: Dialect) -> Vec<Statement> {
    Splitter::new(body, dialect).run()
}

struct Splitter<'a> {
    src: &'a str,
    bytes: &'a [u8],
    dialect: Dialect,
    pos: usize,
    line: usize,
    out: Vec<Statement>,
    delimiter: String,
    // Current statement.
    start: usize,
    first_token_line: Option<usize>,
    /// Where the first token is: leading comments are not part of the statement, so its text and line agree.
    first_token_at: usize,
    /// Words seen at the top of the statement (to recognise CREATE … TRIGGER/PROCEDURE/FUNCTION).
    head_words: Vec<String>,
    block_depth: usize,
    last_word: String,
    compound: bool,
    /// An `END` whose meaning depends on the next word (`END IF` closes an uncounted `IF`).
    pending_end: bool,
}

impl<'a> Splitter<'a> {
    fn new(src: &'a str, dialect: Dialect) -> Self {
        Splitter {
            src,
            bytes: src.as_bytes(),
            dialect,
            pos: 0,
            line: 1,
            out: Vec::new(),
            delimiter: ";".into(),
            start: 0,
            first_token_line: None,
            first_token_at: 0,
            head_words: Vec::new(),
            block_depth: 0,
            last_word: String::new(),
            compound: false,
            pending_end: false,
        }
    }

    fn peek(&self, off: usize) -> u8 {
        self.bytes.get(self.pos + off).copied().unwrap_or(0)
    }

    fn advance(&mut self, n: usize) {
        let end = (self.pos + n).min(self.bytes.len());
        self.line += self.bytes[self.pos..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = end;
    }

    fn mark_token(&mut self) {
        if self.first_token_line.is_none() {
            self.first_token_line = Some(self.line);
            self.first_token_at = self.pos;
        }
    }

    fn run(mut self) -> Vec<Statement> {
        while self.pos < self.bytes.len() {
            let c = self.peek(0);
            // Client directive: `DELIMITER $$` on a line of its own (MySQL dumps and procedures).
            if self.dialect == Dialect::Mysql
                && self.starts_with_word("DELIMITER")
                && self.at_line_start()
            {
                self.flush(self.pos);
                let line_end = self.src[self.pos..]
                    .find('\n')
                    .map_or(self.bytes.len(), |i| self.pos + i);
                let new = self.src[self.pos + "DELIMITER".len()..line_end].trim();
                if !new.is_empty() {
                    self.delimiter = new.to_string();
                }
                self.advance(line_end - self.pos);
                self.start = self.pos;
                continue;
            }
            let at_delimiter = self.bytes[self.pos..].starts_with(self.delimiter.as_bytes());
            if at_delimiter {
                self.resolve_end();
            }
            if self.block_depth == 0 && at_delimiter {
                let end = self.pos;
                self.advance(self.delimiter.len());
                self.flush(end);
                self.start = self.pos;
                continue;
            }
            match c {
                b'-' if self.peek(1) == b'-' && self.line_comment_ok() => self.skip_line(),
                b'#' if self.dialect == Dialect::Mysql => self.skip_line(),
                b'/' if self.peek(1) == b'*' => self.skip_block_comment(),
                b'\'' => {
                    self.mark_token();
                    let escapes = self.dialect == Dialect::Mysql || self.prev_is_e_prefix();
                    self.skip_quoted(b'\'', escapes);
                }
                b'"' => {
                    self.mark_token();
                    self.skip_quoted(b'"', self.dialect == Dialect::Mysql);
                }
                b'`' if self.dialect != Dialect::Postgres => {
                    self.mark_token();
                    self.skip_quoted(b'`', false);
                }
                b'[' if self.dialect == Dialect::Sqlite => {
                    self.mark_token();
                    self.skip_until(b']');
                }
                b'$' if self.dialect == Dialect::Postgres => {
                    self.mark_token();
                    if !self.skip_dollar_quote() {
                        self.advance(1);
                    }
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    self.mark_token();
                    self.word();
                }
                c if c.is_ascii_whitespace() || c == 0x0b => self.advance(1),
                _ if self.src[self.pos..]
                    .chars()
                    .next()
                    .is_some_and(char::is_whitespace) =>
                {
                    // Unicode whitespace (NBSP, U+2028) after a statement is not the next one's first token.
                    let len = self.src[self.pos..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    self.advance(len);
                }
                _ => {
                    self.mark_token();
                    // A whole character: a multi-byte one (`é`, a non-breaking space) is never syntax, and
                    // the position must stay on a character boundary.
                    let len = self.src[self.pos..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    self.advance(len);
                }
            }
        }
        self.flush(self.bytes.len());
        self.out
    }

    fn at_line_start(&self) -> bool {
        self.src[..self.pos]
            .rsplit('\n')
            .next()
            .is_none_or(|l| l.trim().is_empty())
    }

    fn at_delimiter(&self) -> bool {
        self.src[self.pos..].starts_with(self.delimiter.as_str())
    }

    fn starts_with_word(&self, word: &str) -> bool {
        // Bytes, not `str` slices: the position after `word` may be inside a multi-byte character.
        let rest = &self.bytes[self.pos..];
        rest.len() >= word.len()
            && rest[..word.len()].eq_ignore_ascii_case(word.as_bytes())
            && rest.get(word.len()).is_none_or(u8::is_ascii_whitespace)
    }

    /// MySQL needs whitespace (or end) after `--` for a comment.
    fn line_comment_ok(&self) -> bool {
        self.dialect != Dialect::Mysql || {
            let c = self.peek(2);
            c == 0 || c.is_ascii_whitespace()
        }
    }

    fn prev_is_e_prefix(&self) -> bool {
        self.dialect == Dialect::Postgres
            && self.pos > 0
            && matches!(self.bytes[self.pos - 1], b'e' | b'E')
            && (self.pos < 2
                || !(self.bytes[self.pos - 2].is_ascii_alphanumeric()
                    || self.bytes[self.pos - 2] == b'_'))
    }

    fn skip_line(&mut self) {
        let end = self.src[self.pos..]
            .find('\n')
            .map_or(self.bytes.len(), |i| self.pos + i);
        self.advance(end - self.pos);
    }

    fn skip_block_comment(&mut self) {
        let nested = self.dialect == Dialect::Postgres;
        let mut depth = 0usize;
        while self.pos < self.bytes.len() {
            if self.peek(0) == b'/' && self.peek(1) == b'*' {
                depth += 1;
                self.advance(2);
                if !nested && depth > 1 {
                    depth = 1;
                }
            } else if self.peek(0) == b'*' && self.peek(1) == b'/' {
                self.advance(2);
                depth -= 1;
                if depth == 0 {
                    return;
                }
            } else {
                self.advance(1);
            }
        }
    }

    fn skip_quoted(&mut self, quote: u8, backslash_escapes: bool) {
        self.advance(1);
        while self.pos < self.bytes.len() {
            let c = self.peek(0);
            if backslash_escapes && c == b'\\' {
                self.advance(2);
            } else if c == quote {
                if self.peek(1) == quote {
                    self.advance(2);
                } else {
                    self.advance(1);
                    return;
                }
            } else {
                self.advance(1);
            }
        }
    }

    fn skip_until(&mut self, close: u8) {
        while self.pos < self.bytes.len() {
            let c = self.peek(0);
            self.advance(1);
            if c == close {
                return;
            }
        }
    }

    /// `$tag$ … $tag$`; returns false when this `$` does not open a dollar quote (e.g. `$1`).
    fn skip_dollar_quote(&mut self) -> bool {
        let rest = &self.src[self.pos + 1..];
        let tag_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if rest.as_bytes().get(tag_len) != Some(&b'$')
            || rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
        {
            return false;
        }
        let tag = &self.src[self.pos..self.pos + tag_len + 2];
        let body_start = self.pos + tag.len();
        match self.src[body_start..].find(tag) {
            Some(i) => self.advance(tag.len() + i + tag.len()),
            None => self.advance(self.bytes.len() - self.pos),
        }
        true
    }

    fn word(&mut self) {
        let start = self.pos;
        // `$` is an identifier character, but not where the delimiter starts (`END$$`).
        while self.pos < self.bytes.len()
            && (self.peek(0).is_ascii_alphanumeric()
                || self.peek(0) == b'_'
                || (self.peek(0) == b'$' && !self.at_delimiter()))
        {
            self.pos += 1;
        }
        let word = self.src[start..self.pos].to_ascii_uppercase();
        if self.head_words.len() < 8 {
            self.head_words.push(word.clone());
            self.compound = self.is_compound_statement();
        }
        if self.compound {
            if self.pending_end {
                self.pending_end = false;
                match word.as_str() {
                    // `END IF`, `END LOOP`, … close constructs that were not counted.
                    "IF" | "LOOP" | "WHILE" | "REPEAT" => {
                        self.last_word = word;
                        return;
                    }
                    // `END CASE` closes a counted CASE statement.
                    "CASE" => {
                        self.block_depth = self.block_depth.saturating_sub(1);
                        self.last_word = word;
                        return;
                    }
                    _ => self.block_depth = self.block_depth.saturating_sub(1),
                }
            }
            match word.as_str() {
                "BEGIN" | "CASE" => self.block_depth += 1,
                "END" => self.pending_end = true,
                _ => {}
            }
        }
        self.last_word = word;
    }

    fn resolve_end(&mut self) {
        if self.pending_end {
            self.pending_end = false;
            self.block_depth = self.block_depth.saturating_sub(1);
        }
    }

    /// Statements whose bodies contain `;`: triggers everywhere, MySQL routines and events, PostgreSQL
    /// SQL-standard bodies (`BEGIN ATOMIC`; plpgsql bodies are dollar-quoted and need nothing).
    fn is_compound_statement(&self) -> bool {
        let w = &self.head_words;
        if w.first().map(String::as_str) != Some("CREATE") {
            return false;
        }
        let kinds: &[&str] = match self.dialect {
            Dialect::Postgres => &["FUNCTION", "PROCEDURE"],
            Dialect::Mysql => &["TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"],
            Dialect::Sqlite => &["TRIGGER"],
        };
        w.iter().skip(1).any(|x| kinds.contains(&x.as_str()))
    }

    fn flush(&mut self, end: usize) {
        let from = self.first_token_at.clamp(self.start, end);
        let text = self.src[from..end].trim();
        if let Some(line) = self.first_token_line.take() {
            if !text.is_empty() {
                self.out.push(Statement {
                    sql: text.to_string(),
                    line,
                });
            }
        }
        self.head_words.clear();
        self.block_depth = 0;
        self.compound = false;
        self.pending_end = false;
        self.last_word.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(body: &str, d: Dialect) -> Vec<String> {
        split(body, d).into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn simple_statements_and_lines() {
        let st = split(
            "\nCREATE TABLE a (x int);\n\n-- comment; with semicolon\nINSERT INTO a VALUES (1);\n",
            Dialect::Sqlite,
        );
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].line, 2);
        // Leading comments are not part of the statement: its text starts where its line says.
        assert_eq!(st[1].sql, "INSERT INTO a VALUES (1)");
        assert_eq!(st[1].line, 5);
    }

    #[test]
    fn strings_identifiers_and_comments() {
        let body = "INSERT INTO t VALUES ('a;b', 'it''s;');\nSELECT \"odd;name\" FROM t; /* x; y */ SELECT 2";
        assert_eq!(
            sqls(body, Dialect::Postgres),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s;')",
                "SELECT \"odd;name\" FROM t",
                "SELECT 2"
            ]
        );
        assert_eq!(
            sqls("SELECT 'a\\';b'; SELECT 1", Dialect::Mysql),
            ["SELECT 'a\\';b'", "SELECT 1"]
        );
        // Without backslash escapes (SQLite, standard strings) the backslash is literal.
        assert_eq!(
            sqls("SELECT 'a\\'; SELECT 1", Dialect::Sqlite),
            ["SELECT 'a\\'", "SELECT 1"]
        );
        assert_eq!(
            sqls("SELECT E'a\\';b'; SELECT 1", Dialect::Postgres),
            ["SELECT E'a\\';b'", "SELECT 1"]
        );
        assert_eq!(
            sqls("SELECT `a;b` FROM t; SELECT 1", Dialect::Mysql),
            ["SELECT `a;b` FROM t", "SELECT 1"]
        );
        assert_eq!(
            sqls("SELECT 1 # c;\n; SELECT 2", Dialect::Mysql),
            ["SELECT 1 # c;", "SELECT 2"]
        );
        assert_eq!(
            sqls(
                "/* a /* nested; */ still; */ SELECT 1; SELECT 2",
                Dialect::Postgres
            )
            .len(),
            2
        );
    }

    #[test]
    fn dollar_quotes() {
        let body =
            "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n\
                    DO $body$ BEGIN PERFORM 1; END $body$;\nSELECT $1";
        let st = sqls(body, Dialect::Postgres);
        assert_eq!(st.len(), 3, "{st:?}");
        assert!(st[0].ends_with("LANGUAGE plpgsql"));
        assert_eq!(st[2], "SELECT $1");
    }

    #[test]
    fn begin_atomic_bodies() {
        let body = "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE SQL\nBEGIN ATOMIC\n  SELECT a + b;\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\nEND;\nSELECT 1;";
        let st = sqls(body, Dialect::Postgres);
        assert_eq!(st.len(), 2, "{st:?}");
        assert!(st[0].ends_with("END"));
    }

    #[test]
    fn trigger_bodies() {
        let body = "CREATE TRIGGER trg AFTER INSERT ON t BEGIN\n  UPDATE t SET n = CASE WHEN n > 1 THEN 1 ELSE 0 END;\n  INSERT INTO log VALUES (1);\nEND;\nCREATE TABLE after_it (x int);";
        let st = sqls(body, Dialect::Sqlite);
        assert_eq!(st.len(), 2, "{st:?}");
        assert_eq!(split(body, Dialect::Sqlite)[1].line, 5);
    }

    #[test]
    fn mysql_procedures_with_and_without_delimiter() {
        let body = "CREATE PROCEDURE p()\nBEGIN\n  DECLARE i INT DEFAULT 0;\n  lbl: LOOP\n    SET i = i + 1;\n    IF i > 3 THEN LEAVE lbl; END IF;\n  END LOOP;\n  CASE i WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE;\nEND;\nSELECT 1;";
        let st = sqls(body, Dialect::Mysql);
        assert_eq!(st.len(), 2, "{st:?}");
        let with_delim = "DELIMITER //\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END//\nDELIMITER ;\nSELECT 1;";
        let st = sqls(with_delim, Dialect::Mysql);
        assert_eq!(st.len(), 2, "{st:?}");
        assert!(st[0].starts_with("CREATE TRIGGER") && st[0].ends_with("END"));
        // A `$$` delimiter right after END (the MySQL manual's style) ends the statement.
        let dollars = "DELIMITER $$\nCREATE PROCEDURE p()\nBEGIN\n  SET @a$b = 1;\n  SELECT 1;\nEND$$\nDELIMITER ;\nCALL p();";
        let st = sqls(dollars, Dialect::Mysql);
        assert_eq!(st.len(), 2, "{st:?}");
        assert!(st[0].ends_with("END") && st[0].contains("@a$b"), "{st:?}");
        // BEGIN as a transaction statement outside a compound statement does not open a block.
        assert_eq!(sqls("BEGIN; SELECT 1; COMMIT;", Dialect::Sqlite).len(), 3);
    }

    #[test]
    fn only_comments_is_empty() {
        assert!(split("-- nothing here\n/* or here */\n", Dialect::Postgres).is_empty());
        assert!(split("", Dialect::Mysql).is_empty());
    }

    #[test]
    fn unterminated_constructs_do_not_panic() {
        for body in [
            "SELECT 'open",
            "SELECT $$ open",
            "/* open",
            "SELECT \"x",
            "DELIMITER",
            "CREATE TRIGGER x BEGIN",
        ] {
            for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
                let _ = split(body, d);
            }
        }
        assert_eq!(sqls("SELECT 'é;ü'; SELECT 'ñ'", Dialect::Postgres).len(), 2);
        // Non-ASCII outside quotes: identifiers, a non-breaking space.
        for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
            assert_eq!(
                sqls("CREATE TABLE café (x int);\u{a0}SELECT 1;", d),
                ["CREATE TABLE café (x int)", "SELECT 1"]
            );
        }
    }
}
