//! Writing new revision files: the file name from `file_template`, the text from a (minijinja) script
//! template, the built-in one or the user's.

use std::path::Path;

use super::{parse, Script};

/// The built-in script template. Users override it with `script.sql.j2` in the migrations directory.
pub const DEFAULT_TEMPLATE: &str = "-- {{ message }}
--
-- Revision ID: {{ revision }}
-- Revises: {{ revises }}
-- Create Date: {{ create_date }}
{%- if branch_labels %}
-- Branch Labels: {{ branch_labels }}
{%- endif %}
{%- if depends_on %}
-- Depends On: {{ depends_on }}
{%- endif %}
{%- if not transactional %}
-- Transactional: false
{%- endif %}

-- migrate:up
{{ up }}

-- migrate:down
{{ down }}
";

/// Everything a new revision file is made of.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewScript {
    pub revision: String,
    pub down_revisions: Vec<String>,
    pub message: String,
    pub create_date: String,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    pub transactional: bool,
    /// SQL for the sections (empty for a hand-written revision; filled by autogenerate).
    pub up: String,
    pub down: String,
    /// `-x key=value` arguments, as `x.key` in templates.
    pub x: std::collections::BTreeMap<String, String>,
}

#[derive(serde::Serialize)]
struct Context<'a> {
    revision: &'a str,
    revises: String,
    down_revisions: &'a [String],
    message: String,
    create_date: &'a str,
    branch_labels: String,
    depends_on: String,
    transactional: bool,
    up: &'a str,
    down: &'a str,
    x: &'a std::collections::BTreeMap<String, String>,
}

/// Render a new revision file and check that the result parses back to the same revision.
/// `template` is the user's template text, or `None` for the built-in one.
pub fn render(
    new: &NewScript,
    template: Option<&str>,
    path: &Path,
) -> Result<(String, Script), String> {
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // The message goes on one comment line; a newline in it would end the comment.
    let message = new.message.split_whitespace().collect::<Vec<_>>().join(" ");
    let ctx = Context {
        revision: &new.revision,
        revises: new.down_revisions.join(", "),
        down_revisions: &new.down_revisions,
        message,
        create_date: &new.create_date,
        branch_labels: new.branch_labels.join(", "),
        depends_on: new.depends_on.join(", "),
        transactional: new.transactional,
        up: new.up.trim_end_matches('\n'),
        down: new.down.trim_end_matches('\n'),
        x: &new.x,
    };
    let text = env
        .render_str(template.unwrap_or(DEFAULT_TEMPLATE), &ctx)
        .map_err(|e| format!("script template: {e:#}"))?;
    let script = parse(path, text.clone())
        .map_err(|e| format!("the script template produced an invalid file: {e}"))?;
    if script.revision != new.revision || script.down_revisions != new.down_revisions {
        return Err(format!(
            "the script template must write `-- Revision ID: {{{{ revision }}}}` and `-- Revises: {{{{ revises }}}}` \
             (it wrote revision `{}` revising `{}`)",
            script.revision,
            script.down_revisions.join(", ")
        ));
    }
    Ok((text, script))
}

const FILE_PLACEHOLDERS: &[&str] = &[
    "rev", "slug", "year", "month", "day", "hour", "minute", "second", "epoch",
];

/// Check that `file_template` only uses known placeholders and names a revision uniquely.
pub fn validate_file_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    let mut has_unique = false;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("file_template `{template}` has an unclosed `{{`"));
        };
        let name = &after[..close];
        if !FILE_PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "file_template `{template}` uses unknown placeholder `{{{name}}}`; known: {}",
                FILE_PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        has_unique |= name == "rev";
        rest = &after[close + 1..];
    }
    if !has_unique {
        return Err(format!(
            "file_template `{template}` must contain `{{rev}}` so that two revisions never share a file name"
        ));
    }
    if template.contains('/') || template.contains('\\') {
        return Err(format!(
            "file_template `{template}` must be a file name, not a path"
        ));
    }
    Ok(())
}

/// The file name (with `.sql`) for a new revision.
pub fn file_name(template: &str, rev: &str, message: &str, now: time::OffsetDateTime) -> String {
    let mut out = template.to_string();
    let two = |n: u8| format!("{n:02}");
    for (key, value) in [
        ("rev", rev.to_string()),
        ("slug", slugify(message)),
        ("year", format!("{:04}", now.year())),
        ("month", two(u8::from(now.month()))),
        ("day", two(now.day())),
        ("hour", two(now.hour())),
        ("minute", two(now.minute())),
        ("second", two(now.second())),
        ("epoch", now.unix_timestamp().to_string()),
    ] {
        out = out.replace(&format!("{{{key}}}"), &value);
    }
    let out = out.trim_matches('_');
    format!("{out}.sql")
}

/// A file-name-safe form of the message: lower case, `_` between words, at most 40 characters.
pub fn slugify(message: &str) -> String {
    let mut slug = String::new();
    for word in message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let extra = usize::from(!slug.is_empty());
        if slug.len() + extra + word.len() > 40 {
            if slug.is_empty() {
                slug = word.chars().take(40).collect();
            }
            break;
        }
        if extra == 1 {
            slug.push('_');
        }
        slug.push_str(&word);
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NewScript {
        NewScript {
            revision: "5c1e2d3f4a6b".into(),
            down_revisions: vec!["9a8b7c6d5e4f".into()],
            message: "Add phone_number to users".into(),
            create_date: "2026-11-22 10:30:00.123456+00:00".into(),
            branch_labels: vec![],
            depends_on: vec![],
            transactional: true,
            up: "ALTER TABLE users ADD COLUMN phone_number text;".into(),
            down: "ALTER TABLE users DROP COLUMN phone_number;".into(),
            x: Default::default(),
        }
    }

    #[test]
    fn default_template_renders_the_documented_format() {
        let (text, script) = render(&sample(), None, Path::new("x.sql")).unwrap();
        assert_eq!(
            text,
            "-- Add phone_number to users\n--\n-- Revision ID: 5c1e2d3f4a6b\n-- Revises: 9a8b7c6d5e4f\n\
             -- Create Date: 2026-11-22 10:30:00.123456+00:00\n\n-- migrate:up\n\
             ALTER TABLE users ADD COLUMN phone_number text;\n\n-- migrate:down\n\
             ALTER TABLE users DROP COLUMN phone_number;\n"
        );
        assert_eq!(script.message, "Add phone_number to users");
    }

    #[test]
    fn optional_header_lines_round_trip() {
        let mut new = sample();
        new.down_revisions = vec!["a1".into(), "b1".into()];
        new.branch_labels = vec!["net".into()];
        new.depends_on = vec!["d1".into()];
        new.transactional = false;
        new.message = "two\nlines".into();
        let (_, s) = render(&new, None, Path::new("x.sql")).unwrap();
        assert_eq!(s.down_revisions, vec!["a1", "b1"]);
        assert_eq!(s.branch_labels, vec!["net"]);
        assert_eq!(s.depends_on, vec!["d1"]);
        assert!(!s.transactional);
        assert_eq!(s.message, "two lines");
    }

    #[test]
    fn user_template_must_keep_the_revision_header() {
        let err = render(
            &sample(),
            Some("-- {{ message }}\n-- migrate:up\n"),
            Path::new("x.sql"),
        )
        .unwrap_err();
        assert!(err.contains("Revision ID"), "{err}");
        let err = render(&sample(), Some("{{ nope }}"), Path::new("x.sql")).unwrap_err();
        assert!(err.contains("script template"), "{err}");
        let custom =
            "-- {{ message }}\n-- Revision ID: {{ revision }}\n-- Revises: {{ revises }}\n\
                      -- migrate:up\nBEGIN_MARK;\n{{ up }}\n-- migrate:down\n{{ down }}\n";
        let (text, _) = render(&sample(), Some(custom), Path::new("x.sql")).unwrap();
        assert!(text.contains("BEGIN_MARK;"));
    }

    #[test]
    fn slugs_and_file_names() {
        assert_eq!(
            slugify("Add phone_number to users!"),
            "add_phone_number_to_users"
        );
        assert_eq!(slugify("  Ünïcode  naïve "), "ünïcode_naïve");
        let long = slugify("this message is much longer than forty characters in total");
        assert!(long.len() <= 40, "{long}");
        assert_eq!(long, "this_message_is_much_longer_than_forty");
        let now = time::macros::datetime!(2026-11-22 10:30:05 UTC);
        assert_eq!(
            file_name("{rev}_{slug}", "abc", "Add users", now),
            "abc_add_users.sql"
        );
        assert_eq!(
            file_name("{year}{month}{day}_{rev}_{slug}", "abc", "x", now),
            "20261122_abc_x.sql"
        );
        assert_eq!(file_name("{rev}_{slug}", "abc", "", now), "abc.sql");
    }

    #[test]
    fn file_template_validation() {
        assert!(validate_file_template("{rev}_{slug}").is_ok());
        assert!(validate_file_template("{slug}").is_err());
        assert!(validate_file_template("{rev}_{nope}")
            .unwrap_err()
            .contains("{nope}"));
        assert!(validate_file_template("{rev").is_err());
        assert!(validate_file_template("a/{rev}").is_err());
    }
}
