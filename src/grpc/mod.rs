//! Thin gRPC adapters: proto in, domain call, proto out. Business rules live elsewhere.

mod admin_auth;
mod convert;
pub mod encoded;
pub mod error;
mod interrupcoes;
mod scheduler_admin;

pub use admin_auth::AdminGuard;
pub use error::ServiceError;
pub use interrupcoes::{InterrupcoesGrpc, InterrupcoesServer};
pub use scheduler_admin::SchedulerAdminGrpc;
