//! `intake purge` on the command line: the refusal without `--yes`, retention from the
//! configuration, one purge per project, and a non-zero exit when rows were left.

use anyhow::{Context as _, bail};
use chrono::Utc;

use crate::args::PurgeArgs;
use crate::purge::{self, PurgeOptions, PurgeReport};
use crate::settings::Settings;
use intake::store::Store;
use intake::store::accounts::list_projects;
use intake::store::purge::Selection;

/// Runs `intake purge …` against the configured database.
pub fn run_purge(args: PurgeArgs, settings: &Settings) -> anyhow::Result<()> {
    if !(args.deleted || args.retention)
        && args.before.is_none()
        && args.tombstones_before.is_none()
    {
        bail!(
            "say what to purge: --deleted, --before TIME, --tombstones-before TIME or --retention"
        );
    }
    if !args.yes && !args.dry_run {
        bail!(
            "intake purge deletes for good: add --yes to go ahead, or --dry-run to count what \
             would go"
        );
    }
    let config = settings.load()?;
    let selection = if args.retention {
        let days = config.retention.deleted_days.context(
            "retention.deleted_days is not set, so retention is off: set it, or use --deleted",
        )?;
        Some(Selection::Deleted(Some(
            Utc::now() - chrono::Duration::days(i64::from(days)),
        )))
    } else if args.deleted {
        Some(Selection::Deleted(args.before))
    } else {
        args.before.map(Selection::ReceivedBefore)
    };
    let store = Store::new(&config.database);
    store.ensure_migrated()?;
    let mut conn = store.conn().context("cannot connect to PostgreSQL")?;
    let known: Vec<i64> = list_projects(&mut conn)?.iter().map(|p| p.id).collect();
    let projects = match args.project {
        Some(id) if known.contains(&id) => vec![id],
        Some(id) => bail!("no project with id {id}"),
        None => known,
    };
    let mut total = PurgeReport {
        dry_run: args.dry_run,
        ..PurgeReport::default()
    };
    for project_id in &projects {
        let options = PurgeOptions {
            project_id: *project_id,
            selection,
            tombstones_before: args.tombstones_before,
            dry_run: args.dry_run,
            batch_size: args.batch,
            progress: !args.quiet,
        };
        let report = purge::purge(&mut conn, &options)?;
        print!("{report}");
        total.absorb(&report);
    }
    if projects.len() > 1 {
        println!("all {} projects: {}", projects.len(), total.totals());
    }
    if total.busy > 0 {
        bail!(
            "{} rows stayed locked by writers and were left: run the purge again",
            total.busy
        );
    }
    Ok(())
}
