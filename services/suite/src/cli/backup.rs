//! `fiveledger backup` and `fiveledger restore`: the embedded SQLite
//! databases copied while the suite serves, and put back into a data folder
//! not in use. PostgreSQL has its own tools (`pg_dump`, base backups with
//! WAL archiving): see the README's "Backups and restore".

use std::path::{Path, PathBuf};

use fiveledger_platform::settings::ServerSettings;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement};

/// The services' databases in the order they are copied: downstream
/// first. Each copy is consistent on its own; a consumer's copy older than
/// its upstream's replays the events it had not applied yet after a
/// restore, where the reverse would hold entries of problems the restored
/// upstream never had.
const ORDER: [&str; 3] = [
    fiveledger_ledgers::NAME,
    fiveledger_issues::NAME,
    fiveledger_rounds::NAME,
];

const POSTGRES: &str = "the databases are on PostgreSQL (database.url): back them up with \
     PostgreSQL's tools, `pg_dump --schema=<schema>` per service or a base backup with WAL \
     archiving (point-in-time recovery), and after a restore run `fiveledger verify` and \
     `fiveledger reconcile`; see the README, \"Backups and restore\"";

fn file_name(service: &str) -> String {
    format!("{service}.sqlite")
}

fn refuse_postgres(base: &ServerSettings) -> anyhow::Result<()> {
    anyhow::ensure!(!base.database.url.starts_with("postgres"), "{POSTGRES}");
    Ok(())
}

/// Opens an existing SQLite file (never creates one).
async fn open(path: &Path) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rw", path.display()));
    options.max_connections(1).sqlx_logging(false);
    Ok(Database::connect(options).await?)
}

/// Copies each service's database of the data folder into `to` (a folder,
/// created when missing) as `<service>.sqlite`, with `VACUUM INTO`: a
/// consistent snapshot taken in a read transaction, so the services keep
/// serving and writing meanwhile. Refuses to overwrite a file. Returns the
/// files written.
pub async fn backup(base: &ServerSettings, to: &Path) -> anyhow::Result<Vec<PathBuf>> {
    refuse_postgres(base)?;
    anyhow::ensure!(
        !to.is_file(),
        "{} is a file: a backup is a folder holding one file per service",
        to.display()
    );
    let targets: Vec<(PathBuf, PathBuf)> = ORDER
        .iter()
        .map(|s| (base.data_dir.join(file_name(s)), to.join(file_name(s))))
        .collect();
    for (from, target) in &targets {
        anyhow::ensure!(
            from.is_file(),
            "no database at {}: is FIVELEDGER_DATA_DIR the suite's data folder?",
            from.display()
        );
        anyhow::ensure!(
            !target.exists(),
            "{} exists: back up into a new folder (nothing is overwritten)",
            target.display()
        );
    }
    std::fs::create_dir_all(to)?;
    let mut written = Vec::new();
    for (from, target) in targets {
        let partial = target.with_extension("sqlite.partial");
        let _ = std::fs::remove_file(&partial);
        let conn = open(&from).await?;
        let copied = conn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [partial.display().to_string().into()],
            ))
            .await;
        conn.close().await?;
        copied.map_err(|e| anyhow::anyhow!("copying {}: {e}", from.display()))?;
        // Renamed only once complete: a file named `<service>.sqlite` in a
        // backup is always whole.
        std::fs::rename(&partial, &target)?;
        written.push(target);
    }
    Ok(written)
}

/// Puts the databases of the backup `from` into the data folder. Refuses
/// when the folder already holds one of them, unless `force` (the suite
/// must be stopped: its files are replaced). Each copy's integrity is
/// checked before it takes its place. Returns the files written.
pub async fn restore(
    base: &ServerSettings,
    from: &Path,
    force: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    refuse_postgres(base)?;
    let data = &base.data_dir;
    for service in ORDER {
        let source = from.join(file_name(service));
        anyhow::ensure!(
            source.is_file(),
            "{} is missing: restore from a folder `fiveledger backup` wrote",
            source.display()
        );
        let target = data.join(file_name(service));
        anyhow::ensure!(
            force || !target.exists(),
            "{} holds a {service} database already: restore into a data folder not in use \
             (FIVELEDGER_DATA_DIR), or stop the suite and pass --force to replace it",
            target.display()
        );
    }
    std::fs::create_dir_all(data)?;
    let mut written = Vec::new();
    for service in ORDER {
        let target = data.join(file_name(service));
        let partial = data.join(format!("{}.partial", file_name(service)));
        std::fs::copy(from.join(file_name(service)), &partial)?;
        let conn = open(&partial).await?;
        let check = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await;
        conn.close().await?;
        let verdict: String = match check? {
            Some(row) => row.try_get_by_index(0)?,
            None => String::new(),
        };
        if verdict != "ok" {
            let _ = std::fs::remove_file(&partial);
            anyhow::bail!("the backup's {service} database is damaged: {verdict}");
        }
        // The old database's log must not be replayed into the new file.
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(data.join(format!("{}{suffix}", file_name(service))));
        }
        std::fs::rename(&partial, &target)?;
        written.push(target);
    }
    Ok(written)
}
