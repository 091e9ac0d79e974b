//! Builders of admin views for unit tests.

use crmsync_core::model::{
    Approval, ChannelMethod, ChannelState, ChannelStatus, IncomingMethod, Mailbox, MailboxData, Owner,
    Telemetry, TrackFilter,
};

/// A mailbox on profile "P", never tested, nothing enabled.
pub fn mailbox(email: &str) -> Mailbox {
    let channel = ChannelState { enabled: false, status: ChannelStatus::NotRun };
    Mailbox {
        id: 1,
        data: MailboxData {
            email: email.into(),
            owner: Owner::User { id: 1, name: "Alice".into() },
            profile_id: 1,
            username: None,
            incoming_method: IncomingMethod::ServerSide,
            outgoing_method: ChannelMethod::None,
            act_method: ChannelMethod::None,
            track: TrackFilter::All,
            process_from: None,
            delete_after_processing: false,
            is_forward_mailbox: false,
            track_folders: Vec::new(),
        },
        profile: "P".into(),
        has_password: true,
        credentials_required: false,
        approval: Approval::Pending,
        incoming: channel.clone(),
        outgoing: channel.clone(),
        act: channel,
        last_test_on: None,
        first_enabled_on: None,
        telemetry: Telemetry {
            processing_state: "idle".into(),
            last_sync_started: None,
            last_sync_succeeded: None,
            next_poll: None,
            items_processed: 0,
            items_failed: 0,
            transient_failures: 0,
            last_error: None,
            average_duration_ms: None,
            disabled_reason: None,
        },
        created_on: chrono::Utc::now(),
        modified_on: chrono::Utc::now(),
    }
}
