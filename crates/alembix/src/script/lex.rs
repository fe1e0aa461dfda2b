//! Lexical checks on SQL text that need no parser: where a comment, string or quoted name opens and is
//! never closed.

use crate::url::Dialect;

/// The first comment, string or quoted name in `body` that is never closed, as (1-based line where it
/// opens, what it is), read with `dialect`'s rules. Such a construct swallows everything after it, the
/// bookkeeping alembix appends included, so a revision that has one must not run.
pub fn unterminated(body: &str, dialect: Dialect) -> Option<(usize, &'static str)> {
    let b = body.as_bytes();
    let (mut i, mut line) = (0usize, 1usize);
    let count = |from: usize, to: usize| b[from..to].iter().filter(|&&c| c == b'\n').count();
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or(0);
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'-' if next == b'-' => {
                i = body[i..].find('\n').map_or(b.len(), |n| i + n);
            }
            b'#' if dialect == Dialect::Mysql => {
                i = body[i..].find('\n').map_or(b.len(), |n| i + n);
            }
            b'/' if next == b'*' => {
                let (start, opened_at) = (i, line);
                let nested = dialect == Dialect::Postgres;
                let mut depth = 0usize;
                loop {
                    if i >= b.len() {
                        return Some((opened_at, "block comment `/*`"));
                    }
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth = if nested { depth + 1 } else { 1 };
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        i += 2;
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                line += count(start, i);
            }
            b'\'' | b'"' | b'`' if c != b'`' || dialect != Dialect::Postgres => {
                let escapes = dialect == Dialect::Mysql
                    || (c == b'\''
                        && i > 0
                        && b[i - 1].eq_ignore_ascii_case(&b'e')
                        && dialect == Dialect::Postgres);
                let (start, opened_at) = (i, line);
                i += 1;
                loop {
                    if i >= b.len() {
                        return Some((
                            opened_at,
                            if c == b'\'' {
                                "string `'`"
                            } else {
                                "quoted name"
                            },
                        ));
                    }
                    if escapes && b[i] == b'\\' {
                        i += 2;
                    } else if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                line += count(start, i.min(b.len()));
            }
            b'$' if dialect == Dialect::Postgres => {
                let rest = &body[i + 1..];
                let tag_len = rest
                    .bytes()
                    .take_while(|x| x.is_ascii_alphanumeric() || *x == b'_')
                    .count();
                let opens = rest.as_bytes().get(tag_len) == Some(&b'$')
                    && !rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
                    && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
                if !opens {
                    i += 1;
                    continue;
                }
                let tag = &body[i..i + tag_len + 2];
                let after = i + tag.len();
                match body[after..].find(tag) {
                    Some(n) => {
                        let end = after + n + tag.len();
                        line += count(i, end);
                        i = end;
                    }
                    None => return Some((line, "dollar-quoted string")),
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// [`unterminated`] for a section every engine may run: reported only when it is unterminated by the rules
/// of every engine (a MySQL backslash escape is not a PostgreSQL one), so no valid file is refused.
pub fn unterminated_anywhere(body: &str) -> Option<(usize, &'static str)> {
    let found = unterminated(body, Dialect::Sqlite)?;
    unterminated(body, Dialect::Mysql)?;
    unterminated(body, Dialect::Postgres)?;
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unterminated_constructs_are_found_with_their_line() {
        let d = Dialect::Sqlite;
        assert_eq!(
            unterminated("SELECT 1;\nINSERT INTO t VALUES (1) /* never closed", d),
            Some((2, "block comment `/*`"))
        );
        assert_eq!(unterminated("SELECT 'a;\nb", d), Some((1, "string `'`")));
        assert_eq!(
            unterminated(
                "SELECT '--', \"x\" /* ok */;\n-- 'not a string\nSELECT 1;",
                d
            ),
            None
        );
        assert_eq!(
            unterminated("CREATE FUNCTION f() AS $$\nBEGIN", Dialect::Postgres),
            Some((1, "dollar-quoted string"))
        );
        assert_eq!(
            unterminated("SELECT $1, $$a$$, x$y;", Dialect::Postgres),
            None
        );
        // Nested comments close only on PostgreSQL.
        assert_eq!(unterminated("/* a /* b */ c */", Dialect::Postgres), None);
        assert!(unterminated("/* a /* b */ c */ '", Dialect::Sqlite).is_some());
        // A backslash escape is MySQL's: the plain section is fine, since it may be a MySQL file.
        let mysql = "INSERT INTO t VALUES ('it\\'s');";
        assert!(unterminated(mysql, Dialect::Sqlite).is_some());
        assert_eq!(unterminated(mysql, Dialect::Mysql), None);
        assert_eq!(unterminated_anywhere(mysql), None);
        assert!(unterminated_anywhere("SELECT 1 /* x").is_some());
    }
}
