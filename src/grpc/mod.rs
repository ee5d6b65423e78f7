//! Thin gRPC adapters: proto in, domain call, proto out. Business rules live elsewhere.

mod convert;
mod encoded;
pub mod error;
mod interrupcoes;
mod scheduler_admin;

pub use error::ServiceError;
pub use interrupcoes::{InterrupcoesGrpc, InterrupcoesServer};
pub use scheduler_admin::SchedulerAdminGrpc;
