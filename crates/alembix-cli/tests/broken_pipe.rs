//! `alembix history | head -1`: a reader that goes away early is not an error.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::Project;

/// A linear project of `n` revisions, written directly (no CLI calls), with long messages so that the
/// output is several times larger than a pipe buffer.
fn long_history(n: usize) -> Project {
    let p = Project::with_files(&[]);
    let mut prev = String::new();
    for i in 1..=n {
        let id = format!("r{i:011}");
        let text = format!(
            "-- revision number {i} with a message long enough to fill the pipe quickly, and then some more\n\
             -- Revision ID: {id}\n-- Revises: {prev}\n-- Create Date: 2026-01-01 00:00:00\n\n\
             -- migrate:up\nSELECT {i};\n\n-- migrate:down\nSELECT -{i};\n"
        );
        p.write(&format!("migrations/{id}_rev.sql"), &text);
        prev = id;
    }
    p
}

/// Run `alembix ARGS`, read one line of stdout, close the pipe, and return (first line, exit code, stderr).
fn first_line_then_close(p: &Project, args: &[&str]) -> (String, Option<i32>, String) {
    let mut child = Command::new(common::BIN)
        .args(args)
        .current_dir(p.dir.path())
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    {
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        reader.read_line(&mut line).unwrap();
        // The reader (and the pipe) is dropped here, like `head -1` exiting.
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (line, status.code(), stderr)
}

#[test]
fn history_into_a_closed_pipe() {
    // 2000 revisions, about 240 kB of output: far more than a pipe buffer plus what the reader takes.
    let p = long_history(2000);
    let (line, code, stderr) = first_line_then_close(&p, &["history"]);
    assert_eq!(
        line,
        "r00000001999 -> r00000002000 (head), revision number 2000 with a message long enough to fill \
         the pipe quickly, and then some more\n"
    );
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");

    let (line, code, stderr) = first_line_then_close(&p, &["history", "--graph", "-v"]);
    assert!(line.starts_with("* r00000002000 (head), "), "{line}");
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");

    let (line, code, stderr) = first_line_then_close(&p, &["history", "--json"]);
    assert_eq!(line, "[\n");
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn completions_into_a_closed_pipe() {
    let p = Project::empty();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let mut child = Command::new(common::BIN)
            .args(["completions", shell])
            .current_dir(p.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the pipe before reading anything (usually before the process has written).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{shell}: {stderr}");
        assert_eq!(stderr, "", "{shell}");
    }
}
