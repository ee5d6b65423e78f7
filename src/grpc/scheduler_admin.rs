//! `radar.scheduler.v1.SchedulerAdmin`: operators list jobs and run one now.

use tonic::{Request, Response, Status};

use super::convert;
use super::error::ServiceError;
use crate::proto::scheduler::v1 as pb;
use crate::proto::scheduler::v1::scheduler_admin_server::SchedulerAdmin;
use crate::scheduler::{SchedulerService, Trigger};

/// The scheduler admin adapter.
pub struct SchedulerAdminGrpc {
    scheduler: SchedulerService,
}

impl SchedulerAdminGrpc {
    /// Shows and drives `scheduler`.
    pub fn new(scheduler: SchedulerService) -> Self {
        Self { scheduler }
    }
}

#[tonic::async_trait]
impl SchedulerAdmin for SchedulerAdminGrpc {
    async fn list_jobs(
        &self,
        _request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let jobs = self.scheduler.statuses().await;
        Ok(Response::new(pb::ListJobsResponse {
            jobs: jobs.iter().map(convert::job_status).collect(),
            scheduler_running: self.scheduler.is_running(),
        }))
    }

    async fn trigger_now(
        &self,
        request: Request<pb::TriggerNowRequest>,
    ) -> Result<Response<pb::TriggerNowResponse>, Status> {
        let job_name = request.into_inner().job_name;
        if job_name.trim().is_empty() {
            return Err(ServiceError::InvalidArgument {
                field: "jobName",
                reason: "is empty: name the job to run (see ListJobs)".into(),
            }
            .into());
        }
        let result = self
            .scheduler
            .trigger(&job_name, Trigger::Manual)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::TriggerNowResponse {
            run: Some(convert::run(&result.run)),
            joined_running_run: result.joined,
            reused_recent_run: result.reused_recent_run,
        }))
    }
}
