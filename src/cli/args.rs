//! The command line's grammar, as clap derive structures.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "A content host runtime: an asset tree, users and permissions, a web front end and packages",
    propagate_version = true
)]
pub struct Cli {
    /// The instance directory (DIR/tessera.db and DIR/packages/)
    #[arg(
        long,
        global = true,
        env = "TESSERA_DATA",
        default_value = "./tessera-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// The acting user; the password comes from TESSERA_PASSWORD or a prompt
    #[arg(long = "as", global = true, env = "TESSERA_USER", value_name = "USER")]
    pub as_user: Option<String>,
    /// Print machine-readable output (one JSON document on stdout)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new instance with the root user "root" (password from TESSERA_PASSWORD)
    Init,
    /// Check the instance's consistency; exits 1 on any fault
    Check,
    /// Make a ready instance (or reuse one) with the JSON Web Token package, a demo user and a
    /// token at /demo/token, then serve it
    Quickstart {
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: String,
    },
    /// Serve the instance over HTTP until SIGINT or SIGTERM (TESSERA_SESSION_SECONDS sets the session length)
    Serve {
        /// The address to listen on; port 0 picks a free one
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: String,
    },
    /// Manage users
    #[command(subcommand)]
    User(UserCmd),
    /// Manage assets
    #[command(subcommand)]
    Asset(AssetCmd),
    /// List or purge the trash
    #[command(subcommand)]
    Trash(TrashCmd),
    /// Build, inspect, install, upgrade and uninstall packages
    #[command(subcommand)]
    Package(PackageCmd),
    /// Decode and verify JSON Web Tokens
    #[command(subcommand)]
    Jwt(JwtCmd),
}

#[derive(Debug, Subcommand)]
pub enum JwtCmd {
    /// Show a token's header and claims, like a JWT debugger (checks nothing)
    Decode { token: String },
    /// Check a token's signature and expiry; exits 1 if it is not valid
    #[command(group(ArgGroup::new("key").required(true).args(["secret_file", "asset"])))]
    Verify {
        token: String,
        /// A file holding the secret (its bytes as they are)
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// The JSON Web Token asset whose secret signed it (needs read permission)
        #[arg(long, value_name = "ID|PATH")]
        asset: Option<String>,
    },
}

/// The arguments install and upgrade share.
#[derive(Debug, Args)]
pub struct ArchiveOp {
    #[arg(value_name = "FILE.tgz")]
    pub file: PathBuf,
    /// Refuse unless the archive has this sha256
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum PackageCmd {
    /// Validate a package directory and pack it reproducibly; prints the sha256
    Build {
        dir: PathBuf,
        /// The archive to write (default: NAME-VERSION.tgz in the current directory)
        #[arg(short = 'o', long = "output", value_name = "FILE.tgz")]
        output: Option<PathBuf>,
    },
    /// Show an archive's manifest, files, sha256 and validation verdict (needs no instance)
    Inspect {
        #[arg(value_name = "FILE.tgz")]
        file: PathBuf,
    },
    /// Install a package (system administrators only)
    Install(ArchiveOp),
    /// Upgrade an installed package to a higher version (system administrators only)
    Upgrade(ArchiveOp),
    /// Uninstall a package (system administrators only; command line only)
    Uninstall {
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// List installed packages
    List,
    /// Show the log of package operations and purges, done or refused
    History { name: Option<String> },
    /// List the asset types the instance knows
    Types,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user; the password comes from TESSERA_NEW_PASSWORD or a prompt
    Add {
        name: String,
        /// user, content-editor, backend-user or system-administrator
        #[arg(long)]
        level: String,
        /// An attribute such as first_name=Ada (repeatable)
        #[arg(long, value_name = "KEY=VALUE")]
        attr: Vec<String>,
    },
    /// Change a user's level, attributes or password (an empty value removes an attribute)
    Set {
        name: String,
        #[arg(long)]
        level: Option<String>,
        #[arg(long, value_name = "KEY=VALUE")]
        attr: Vec<String>,
        /// Set a new password from TESSERA_NEW_PASSWORD or a prompt
        #[arg(long)]
        password: bool,
    },
    /// Show a user
    Show { name: String },
    /// List users
    List,
}

#[derive(Debug, Subcommand)]
pub enum AssetCmd {
    /// Create an asset
    Create {
        /// The asset type code, e.g. folder, page or json_web_token
        #[arg(long = "type", value_name = "CODE")]
        type_code: String,
        /// The parent asset, by id or web path
        #[arg(long, value_name = "ID|PATH")]
        parent: String,
        #[arg(long)]
        name: String,
        /// The web path segment; derived from the name when absent
        #[arg(long, value_name = "SEGMENT")]
        path: Option<String>,
        /// 1 (menus), 2 (backend only), 3 (hidden) or notice
        #[arg(long, value_name = "1|2|3|notice")]
        link_type: Option<String>,
        /// under_construction (the default) or live
        #[arg(long)]
        status: Option<String>,
        /// An attribute value; KEY=@FILE reads it from FILE (repeatable)
        #[arg(long, value_name = "KEY=VALUE|KEY=@FILE")]
        attr: Vec<String>,
    },
    /// Show an asset (secrets masked)
    Show {
        #[arg(value_name = "ID|PATH")]
        asset: String,
    },
    /// Show the tree under an asset (the root folder by default)
    Tree {
        #[arg(value_name = "ID|PATH")]
        asset: Option<String>,
    },
    /// Change an asset
    Set {
        #[arg(value_name = "ID|PATH")]
        asset: String,
        #[arg(long)]
        name: Option<String>,
        /// A new web path segment
        #[arg(long, value_name = "SEGMENT")]
        path: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long, value_name = "1|2|3|notice")]
        link_type: Option<String>,
        #[arg(long, value_name = "KEY=VALUE|KEY=@FILE")]
        attr: Vec<String>,
    },
    /// Grant, deny or revoke a permission
    #[command(group(ArgGroup::new("subject").required(true).args(["user", "public", "all_users"])))]
    Grant {
        #[arg(value_name = "ID|PATH")]
        asset: String,
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// The public (users who are not logged in)
        #[arg(long)]
        public: bool,
        /// Every logged-in user
        #[arg(long)]
        all_users: bool,
        #[arg(long, value_parser = ["read", "write", "admin"])]
        perm: String,
        /// Deny instead of grant; a denial beats any grant
        #[arg(long, conflicts_with = "revoke")]
        deny: bool,
        /// Apply to the whole subtree
        #[arg(long)]
        cascade: bool,
        /// Remove the grant or denial instead
        #[arg(long)]
        revoke: bool,
    },
    /// Print what the front end gives a user for an asset; for a JWT asset, the token
    Preview {
        #[arg(value_name = "ID|PATH")]
        asset: String,
        /// The user to preview for (system administrators only, for anyone but themselves)
        #[arg(long = "for", value_name = "USER")]
        for_user: Option<String>,
    },
    /// Move an asset and its subtree to the trash
    Trash {
        #[arg(value_name = "ID|PATH")]
        asset: String,
    },
    /// Put a trashed asset back where it was
    Restore {
        #[arg(value_name = "ID")]
        asset: String,
        /// Restore under this asset instead (needed when the old parent was purged)
        #[arg(long, value_name = "ID|PATH")]
        parent: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrashCmd {
    /// List the assets in the trash
    List,
    /// Delete trashed assets for good (system administrators only)
    Purge {
        #[arg(
            value_name = "ID",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        ids: Vec<String>,
        #[arg(long)]
        all: bool,
    },
}
