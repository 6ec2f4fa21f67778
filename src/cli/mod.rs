//! The command line: parses arguments with clap, authenticates the acting user, delegates to
//! the library and prints the result (as text, or as one JSON document with `--json`). It holds
//! no rules of its own.

mod args;
mod jwt;
mod output;
mod package;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;

use crate::assets::{
    self, AssetChanges, GrantRequest, GrantTarget, LinkType, NewAssetRequest, PurgeTarget, Status,
};
use crate::check;
use crate::instance::Instance;
use crate::perms::Perm;
use crate::users::{self, Actor, Level, UserChanges};

pub use args::Cli;
use args::{AssetCmd, Command, TrashCmd, UserCmd};

/// Runs the command line and returns the process's exit status: 0 on success, 2 on a usage
/// error, 1 on anything refused or failed.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are successes; everything else clap reports is a usage error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The global options every command sees.
pub struct Globals {
    pub data_dir: PathBuf,
    pub as_user: Option<String>,
    pub json: bool,
}

impl Globals {
    fn open(&self) -> anyhow::Result<Instance> {
        Ok(Instance::open(&self.data_dir)?)
    }

    /// The acting user: authenticated when `--as` is given, the public user otherwise.
    fn actor(&self, instance: &Instance) -> anyhow::Result<Actor> {
        let Some(name) = &self.as_user else {
            return Ok(Actor::public());
        };
        let password =
            password_from_env_or_prompt("TESSERA_PASSWORD", &format!("password for {name}: "))?;
        Ok(Actor::user(users::authenticate(
            instance.store.conn(),
            name,
            &password,
        )?))
    }

    /// Like [`Globals::actor`], but the command makes no sense for the public user.
    fn logged_in_actor(&self, instance: &Instance, what: &str) -> anyhow::Result<Actor> {
        if self.as_user.is_none() {
            bail!(
                "{what} needs an acting user: pass --as NAME (or set TESSERA_USER) and give the password in TESSERA_PASSWORD"
            );
        }
        self.actor(instance)
    }

    fn print<T: serde::Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            let text = human(value);
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
        }
        Ok(())
    }
}

/// Reads a secret from an environment variable, or prompts for it on a terminal.
pub fn password_from_env_or_prompt(var: &str, prompt: &str) -> anyhow::Result<String> {
    if let Ok(value) = std::env::var(var) {
        return Ok(value);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).context("cannot read the password");
    }
    bail!("no password given: set {var}, or run on a terminal to be prompted")
}

/// Reads a new password, asking twice on a terminal.
fn new_password(var: &str, whose: &str) -> anyhow::Result<String> {
    if let Ok(value) = std::env::var(var) {
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password given for {whose}: set {var}, or run on a terminal to be prompted");
    }
    let first = rpassword::prompt_password(format!("new password for {whose}: "))?;
    let second = rpassword::prompt_password("again: ")?;
    if first != second {
        bail!("the two passwords differ: nothing was changed, try again");
    }
    Ok(first)
}

/// Drops one final line break, which editors and `echo` add to files but nobody means as part
/// of a secret or a value.
pub fn strip_final_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// Splits `KEY=VALUE`; with `files`, `KEY=@FILE` reads the value from FILE.
fn parse_pairs(pairs: &[String], files: bool) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("--attr {pair:?} is not KEY=VALUE"))?;
            let value = match value.strip_prefix('@') {
                Some(path) if files => strip_final_newline(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read the value of {key} from {path}"))?,
                ),
                _ => value.to_owned(),
            };
            Ok((key.trim().to_owned(), value))
        })
        .collect()
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Globals {
        data_dir: cli.data_dir,
        as_user: cli.as_user,
        json: cli.json,
    };
    match cli.command {
        Command::Init => {
            let password = new_password("TESSERA_PASSWORD", "root")?;
            let instance = Instance::init(&ctx.data_dir, &password)?;
            let message = format!(
                "created a new instance in {} with the root user \"root\"",
                instance.dir.display()
            );
            ctx.print(
                &serde_json::json!({ "data_dir": instance.dir, "root": "root" }),
                |_| message,
            )?;
        }
        Command::Check => {
            let instance = ctx.open()?;
            let faults = check::run(&instance)?;
            let ok = faults.is_empty();
            ctx.print(&serde_json::json!({ "ok": ok, "faults": faults }), |_| {
                if ok {
                    "ok: no faults found".to_owned()
                } else {
                    faults.iter().map(|f| format!("fault: {f}\n")).collect()
                }
            })?;
            if !ok {
                eprintln!("error: the check found {} fault(s)", faults.len());
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Quickstart { listen } => quickstart(&ctx, &listen)?,
        Command::Serve { listen } => crate::web::serve_blocking(&ctx.data_dir, &listen)?,
        Command::User(cmd) => user(&ctx, cmd)?,
        Command::Asset(cmd) => asset(&ctx, cmd)?,
        Command::Trash(cmd) => trash(&ctx, cmd)?,
        Command::Package(cmd) => package::run(&ctx, cmd)?,
        Command::Jwt(cmd) => jwt::run(&ctx, cmd)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `quickstart`: prepares the instance, prints what it made (passwords once), then serves and
/// prints the curl line that fetches a token.
fn quickstart(ctx: &Globals, listen: &str) -> anyhow::Result<()> {
    let summary = crate::quickstart::prepare(&ctx.data_dir)?;
    for note in &summary.notes {
        println!("{note}");
    }
    if let Some(password) = &summary.root_password {
        println!("root password (shown only now): {password}");
    }
    let demo = match &summary.demo_password {
        Some(password) => {
            println!("demo password (shown only now): {password}");
            shell_quote(&format!("demo:{password}"))
        }
        None => {
            println!(
                "the user demo already existed: use the password printed when it was made, or set a \
                 new one with: tessera --data-dir {} --as root user set demo --password",
                ctx.data_dir.display()
            );
            "'demo:PASSWORD'".to_owned()
        }
    };
    crate::web::serve_blocking_with(&ctx.data_dir, listen, |addr| {
        println!("fetch a token for demo with:");
        println!("  curl -u {demo} http://{addr}/demo/token");
        println!("stop the server with Ctrl-C");
    })
}

/// Quotes a word for a POSIX shell, so a printed command works when pasted.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

fn user(ctx: &Globals, cmd: UserCmd) -> anyhow::Result<()> {
    let mut instance = ctx.open()?;
    match cmd {
        UserCmd::Add { name, level, attr } => {
            let actor = ctx.logged_in_actor(&instance, "adding a user")?;
            let level = Level::parse_storable(&level)?;
            let attributes = parse_pairs(&attr, false)?;
            // Refuse before asking for a password the command would throw away.
            crate::perms::require_level(&actor, Level::SystemAdministrator, || {
                "adding a user".into()
            })?;
            let password = new_password("TESSERA_NEW_PASSWORD", &name)?;
            let view = users::add(
                &mut instance.store,
                &actor,
                &name,
                level,
                &attributes,
                &password,
            )?;
            ctx.print(&view, output::user)?;
        }
        UserCmd::Set {
            name,
            level,
            attr,
            password,
        } => {
            let actor = ctx.logged_in_actor(&instance, "changing a user")?;
            let changes = UserChanges {
                level: level.as_deref().map(Level::parse_storable).transpose()?,
                attributes: parse_pairs(&attr, false)?,
                password: if password {
                    Some(new_password("TESSERA_NEW_PASSWORD", &name)?)
                } else {
                    None
                },
            };
            let view = users::set(&mut instance.store, &actor, &name, &changes)?;
            ctx.print(&view, output::user)?;
        }
        UserCmd::Show { name } => {
            let actor = ctx.logged_in_actor(&instance, "showing a user")?;
            ctx.print(
                &users::show(instance.store.conn(), &actor, &name)?,
                output::user,
            )?;
        }
        UserCmd::List => {
            let actor = ctx.logged_in_actor(&instance, "listing users")?;
            ctx.print(&users::list(instance.store.conn(), &actor)?, |v| {
                output::user_list(v)
            })?;
        }
    }
    Ok(())
}

fn asset(ctx: &Globals, cmd: AssetCmd) -> anyhow::Result<()> {
    let mut instance = ctx.open()?;
    let actor = ctx.actor(&instance)?;
    match cmd {
        AssetCmd::Create {
            type_code,
            parent,
            name,
            path,
            link_type,
            status,
            attr,
        } => {
            let req = NewAssetRequest {
                type_code,
                parent,
                name,
                segment: path,
                link_type: link_type.as_deref().map(LinkType::parse_arg).transpose()?,
                status: status.as_deref().map(Status::parse_arg).transpose()?,
                attributes: parse_pairs(&attr, true)?,
            };
            let changed = assets::create(&mut instance.store, &actor, &req)?;
            print_warnings(&changed.warnings);
            ctx.print(&changed.asset, output::asset)?;
        }
        AssetCmd::Show { asset } => {
            ctx.print(
                &assets::show(instance.store.conn(), &actor, &asset)?,
                output::asset,
            )?;
        }
        AssetCmd::Tree { asset } => {
            ctx.print(
                &assets::tree(instance.store.conn(), &actor, asset.as_deref())?,
                |v| output::tree(v),
            )?;
        }
        AssetCmd::Set {
            asset,
            name,
            path,
            status,
            link_type,
            attr,
        } => {
            let changes = AssetChanges {
                name,
                segment: path,
                status: status.as_deref().map(Status::parse_arg).transpose()?,
                link_type: link_type.as_deref().map(LinkType::parse_arg).transpose()?,
                attributes: parse_pairs(&attr, true)?,
            };
            let changed = assets::set(&mut instance.store, &actor, &asset, &changes)?;
            print_warnings(&changed.warnings);
            ctx.print(&changed.asset, output::asset)?;
        }
        AssetCmd::Grant {
            asset,
            user,
            public,
            all_users,
            perm,
            deny,
            cascade,
            revoke,
        } => {
            let target = match (user, public, all_users) {
                (Some(name), false, false) => GrantTarget::User(name),
                (None, true, false) => GrantTarget::Public,
                (None, false, true) => GrantTarget::AllUsers,
                _ => unreachable!("clap requires exactly one of --user, --public, --all-users"),
            };
            let perm = Perm::parse(&perm).expect("clap admits only read, write and admin");
            let req = GrantRequest {
                target,
                perm,
                deny,
                cascade,
                revoke,
            };
            let n = assets::grant(&mut instance.store, &actor, &asset, &req)?;
            let verb = if revoke {
                "removed"
            } else if deny {
                "denied"
            } else {
                "granted"
            };
            ctx.print(&serde_json::json!({ "assets_changed": n }), |_| {
                format!("{verb} {perm} on {n} asset(s)")
            })?;
        }
        AssetCmd::Preview { asset, for_user } => {
            jwt::preview(&instance, actor, &asset, for_user.as_deref())?;
        }
        AssetCmd::Trash { asset } => {
            let view = assets::trash(&mut instance.store, &actor, &asset)?;
            ctx.print(&view, |v| {
                format!(
                    "moved asset {} ({}) and its subtree to the trash",
                    v.id, v.path
                )
            })?;
        }
        AssetCmd::Restore { asset, parent } => {
            let view = assets::restore(&mut instance.store, &actor, &asset, parent.as_deref())?;
            ctx.print(&view, |v| format!("restored asset {} to {}", v.id, v.path))?;
        }
    }
    Ok(())
}

fn trash(ctx: &Globals, cmd: TrashCmd) -> anyhow::Result<()> {
    let mut instance = ctx.open()?;
    match cmd {
        TrashCmd::List => {
            let actor = ctx.actor(&instance)?;
            ctx.print(&assets::trash_list(instance.store.conn(), &actor)?, |v| {
                output::trash(v)
            })?;
        }
        TrashCmd::Purge { ids, all } => {
            let actor = ctx.logged_in_actor(&instance, "purging the trash")?;
            let target = if all {
                PurgeTarget::All
            } else {
                PurgeTarget::Ids(&ids)
            };
            let deleted = assets::purge(&mut instance.store, &actor, target)?;
            ctx.print(&serde_json::json!({ "deleted": deleted }), |_| {
                format!("purged {} asset(s) for good", deleted.len())
            })?;
        }
    }
    Ok(())
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}
