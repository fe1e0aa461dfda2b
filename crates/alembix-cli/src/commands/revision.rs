//! `alembix revision` and `alembix merge`: write a new revision file.

use std::process::ExitCode;

use alembix::project::{self, RevisionRequest};
use alembix::{Config, Script};

use super::{load_graph, CliResult};
use crate::cli::{MergeArgs, RevisionArgs};
use crate::output::{paint, show_path, Printer, ID};

pub fn revision(printer: &mut Printer, config: &Config, args: &RevisionArgs) -> CliResult {
    let graph = load_graph(config)?;
    let script = project::create_revision(config, graph, &request(args))?;
    created(printer, &script, args.json)
}

/// What `revision`'s options ask for (also with `--autogenerate`, which adds the SQL).
pub fn request(args: &RevisionArgs) -> RevisionRequest {
    let mut req = RevisionRequest::new(args.message.clone());
    req.head = args.head.clone();
    req.splice = args.splice;
    req.branch_labels = args.branch_label.clone();
    req.depends_on = args.depends_on.clone();
    req.rev_id = args.rev_id.clone();
    req.transactional = !args.no_transaction;
    req
}

pub fn merge(printer: &mut Printer, config: &Config, args: &MergeArgs) -> CliResult {
    let graph = load_graph(config)?;
    let mut req = RevisionRequest::new(args.message.clone());
    req.merge_of = Some(args.revisions.clone());
    req.branch_labels = args.branch_label.clone();
    req.rev_id = args.rev_id.clone();
    req.splice = args.splice;
    let script = project::create_revision(config, graph, &req)?;
    created(printer, &script, args.json)
}

fn created(printer: &mut Printer, script: &Script, json: bool) -> CliResult {
    if json {
        printer.json(&serde_json::json!({
            "revision": script.revision,
            "down_revisions": script.down_revisions,
            "path": show_path(&script.path),
        }))?;
    } else {
        printer.line(format!(
            "Created revision {} in {}",
            paint(ID, &script.revision),
            show_path(&script.path)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
