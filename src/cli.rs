//! The command line: `serve` (the default), `migrate`, the generated parts of the contract
//! (`print-schema`, `print-settings`, `print-error-codes`, `print-policy`), `hash-password`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::config::{DatabaseTarget, Settings};
use crate::db::{self, DatabaseSettings, StatementCounter};
use crate::domain;

#[derive(Parser)]
#[command(
    name = "favorites-api",
    version,
    about = "GraphQL API for clients and their favorite products"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write the GraphQL schema (SDL) to standard output.
    PrintSchema,
    /// Write the table of settings (Markdown, as in the README) to standard output.
    PrintSettings,
    /// Write the table of error codes (Markdown, as in the README) to standard output.
    PrintErrorCodes {
        /// The TypeScript SDK's list instead (sdk/typescript/src/error-codes.ts).
        #[arg(long)]
        typescript: bool,
    },
    /// Write the table of what a client token may do (Markdown, as in the README).
    PrintPolicy,
    /// Read a password from standard input and print its bcrypt hash for MASTER_PASSWORD_HASH.
    HashPassword {
        /// bcrypt cost (4 to 31); every step doubles the work.
        #[arg(long, default_value_t = bcrypt::DEFAULT_COST)]
        cost: u32,
    },
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => with_runtime(serve()),
        Command::Migrate => with_runtime(migrate()),
        Command::PrintSchema => print_schema(),
        Command::PrintSettings => print(&crate::config::markdown_table(crate::config::KEYS)),
        Command::PrintErrorCodes { typescript: false } => print(&domain::error_code_table()),
        Command::PrintErrorCodes { typescript: true } => print(&domain::error_code_list()),
        Command::PrintPolicy => print(&crate::service::policy::markdown_table()),
        Command::HashPassword { cost } => hash_password(cost),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("favorites-api: {message}");
            ExitCode::FAILURE
        }
    }
}

fn with_runtime(task: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?
        .block_on(task)
}

async fn serve() -> Result<(), String> {
    let loaded = Settings::load().map_err(|error| error.to_string())?;
    let _traces = crate::telemetry::init(&loaded.settings.log_filter, loaded.settings.log_format);
    // Which layer won for each secret (never its value): a real secret shadowed by a demo one
    // is visible here.
    for (key, source) in &loaded.secret_sources {
        tracing::info!(key, from = %source, "secret setting loaded");
    }
    let app = Application::build(loaded.settings)
        .await
        .map_err(|error| error.to_string())?;
    app.run_until_stopped()
        .await
        .map_err(|error| format!("server error: {error}"))
}

async fn migrate() -> Result<(), String> {
    let target = DatabaseTarget::load().map_err(|error| error.to_string())?;
    let _traces = crate::telemetry::init(
        crate::telemetry::DEFAULT_LOG_FILTER,
        crate::telemetry::LogFormat::Text,
    );
    let database = DatabaseSettings::for_migrations(&target);
    let connection = db::connect(&database, StatementCounter::default())
        .await
        .map_err(|error| format!("cannot connect to the database: {error}"))?;
    db::run_migrations(&connection, &database)
        .await
        .map_err(|error| {
            format!(
                "migration failed: {}",
                target.database_url.scrub(&error.to_string())
            )
        })?;
    println!("migrations applied");
    Ok(())
}

fn print_schema() -> Result<(), String> {
    print(&crate::graphql::sdl())
}

fn print(text: &str) -> Result<(), String> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|error| error.to_string())
}

fn hash_password(cost: u32) -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the password: {error}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err("the password on standard input is empty".to_owned());
    }
    // bcrypt reads at most 72 bytes; refusing more beats silently ignoring the rest.
    let hash = bcrypt::non_truncating_hash(password, cost).map_err(|error| match error {
        bcrypt::BcryptError::Truncation(_) => {
            "bcrypt uses at most 72 bytes of a password; choose a shorter one".to_owned()
        }
        other => other.to_string(),
    })?;
    println!("{hash}");
    Ok(())
}
