//! Property ids (MS-OXPROPS) for mail, and FastTransfer marker / meta-property values.

#![allow(missing_docs)] // names are the MS-OXPROPS names; each constant documents itself

/// Markers (§2.1): u32 values that carry no data.
pub mod marker {
    pub const NEW_ATTACH: u32 = 0x4000_0003;
    pub const START_EMBED: u32 = 0x4001_0003;
    pub const END_EMBED: u32 = 0x4002_0003;
    pub const START_RECIP: u32 = 0x4003_0003;
    pub const END_TO_RECIP: u32 = 0x4004_0003;
    pub const START_TOP_FLD: u32 = 0x4009_0003;
    pub const START_SUB_FLD: u32 = 0x400A_0003;
    pub const END_FOLDER: u32 = 0x400B_0003;
    pub const START_MESSAGE: u32 = 0x400C_0003;
    pub const END_MESSAGE: u32 = 0x400D_0003;
    pub const END_ATTACH: u32 = 0x400E_0003;
    pub const START_FAI_MSG: u32 = 0x4010_0003;
    pub const INCR_SYNC_CHG: u32 = 0x4012_0003;
    pub const INCR_SYNC_DEL: u32 = 0x4013_0003;
    pub const INCR_SYNC_END: u32 = 0x4014_0003;
    pub const INCR_SYNC_MESSAGE: u32 = 0x4015_0003;
    pub const FX_ERROR_INFO: u32 = 0x4018_0003;
    pub const INCR_SYNC_READ: u32 = 0x402F_0003;
    pub const INCR_SYNC_STATE_BEGIN: u32 = 0x403A_0003;
    pub const INCR_SYNC_STATE_END: u32 = 0x403B_0003;
    pub const INCR_SYNC_PROGRESS_MODE: u32 = 0x4074_000B;
    pub const INCR_SYNC_PROGRESS_PER_MSG: u32 = 0x4075_000B;
    pub const INCR_SYNC_GROUP_INFO: u32 = 0x407B_0102;
    pub const INCR_SYNC_CHG_PARTIAL: u32 = 0x407D_0003;

    /// All 24 marker values.
    pub const ALL: [u32; 24] = [
        NEW_ATTACH,
        START_EMBED,
        END_EMBED,
        START_RECIP,
        END_TO_RECIP,
        START_TOP_FLD,
        START_SUB_FLD,
        END_FOLDER,
        START_MESSAGE,
        END_MESSAGE,
        END_ATTACH,
        START_FAI_MSG,
        INCR_SYNC_CHG,
        INCR_SYNC_DEL,
        INCR_SYNC_END,
        INCR_SYNC_MESSAGE,
        FX_ERROR_INFO,
        INCR_SYNC_READ,
        INCR_SYNC_STATE_BEGIN,
        INCR_SYNC_STATE_END,
        INCR_SYNC_PROGRESS_MODE,
        INCR_SYNC_PROGRESS_PER_MSG,
        INCR_SYNC_GROUP_INFO,
        INCR_SYNC_CHG_PARTIAL,
    ];

    /// Whether `t` is a marker (compared on the whole 32-bit value).
    pub fn is_marker(t: u32) -> bool {
        ALL.contains(&t)
    }

    /// The marker's MS-OXCFXICS name.
    pub fn name(t: u32) -> &'static str {
        match t {
            NEW_ATTACH => "NewAttach",
            START_EMBED => "StartEmbed",
            END_EMBED => "EndEmbed",
            START_RECIP => "StartRecip",
            END_TO_RECIP => "EndToRecip",
            START_TOP_FLD => "StartTopFld",
            START_SUB_FLD => "StartSubFld",
            END_FOLDER => "EndFolder",
            START_MESSAGE => "StartMessage",
            END_MESSAGE => "EndMessage",
            END_ATTACH => "EndAttach",
            START_FAI_MSG => "StartFAIMsg",
            INCR_SYNC_CHG => "IncrSyncChg",
            INCR_SYNC_DEL => "IncrSyncDel",
            INCR_SYNC_END => "IncrSyncEnd",
            INCR_SYNC_MESSAGE => "IncrSyncMessage",
            FX_ERROR_INFO => "FXErrorInfo",
            INCR_SYNC_READ => "IncrSyncRead",
            INCR_SYNC_STATE_BEGIN => "IncrSyncStateBegin",
            INCR_SYNC_STATE_END => "IncrSyncStateEnd",
            INCR_SYNC_PROGRESS_MODE => "IncrSyncProgressMode",
            INCR_SYNC_PROGRESS_PER_MSG => "IncrSyncProgressPerMsg",
            INCR_SYNC_GROUP_INFO => "IncrSyncGroupInfo",
            INCR_SYNC_CHG_PARTIAL => "IncrSyncChgPartial",
            _ => "?",
        }
    }
}

/// Meta-property tags (§2.2).
pub mod meta {
    pub const DN_PREFIX: u32 = 0x4008_001E;
    pub const DN_PREFIX_CP1252: u32 = 0x4008_84E4;
    pub const EC_WARNING: u32 = 0x400F_0003;
    pub const NEW_FX_FOLDER: u32 = 0x4011_0102;
    pub const FX_DEL_PROP: u32 = 0x4016_0003;
    /// Tagged Int32 but carries a variable-length value.
    pub const IDSET_GIVEN: u32 = 0x4017_0003;
    pub const MESSAGE_RECIPIENTS: u32 = 0x0E12_000D;
    pub const MESSAGE_ATTACHMENTS: u32 = 0x0E13_000D;
}

/// Property ids (the high 16 bits of a tag).
pub mod id {
    pub const MESSAGE_CLASS: u16 = 0x001A;
    pub const IMPORTANCE: u16 = 0x0017;
    pub const ORIGINATOR_DELIVERY_REPORT_REQUESTED: u16 = 0x0023;
    pub const PRIORITY: u16 = 0x0026;
    pub const READ_RECEIPT_REQUESTED: u16 = 0x0029;
    pub const SENSITIVITY: u16 = 0x0036;
    pub const SUBJECT: u16 = 0x0037;
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    pub const SENT_REPRESENTING_SEARCH_KEY: u16 = 0x003B;
    pub const SUBJECT_PREFIX: u16 = 0x003D;
    pub const RECEIVED_BY_NAME: u16 = 0x0040;
    pub const SENT_REPRESENTING_ENTRY_ID: u16 = 0x0041;
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    pub const REPLY_RECIPIENT_ENTRIES: u16 = 0x004F;
    pub const REPLY_RECIPIENT_NAMES: u16 = 0x0050;
    pub const SENT_REPRESENTING_ADDRESS_TYPE: u16 = 0x0064;
    pub const SENT_REPRESENTING_EMAIL_ADDRESS: u16 = 0x0065;
    pub const CONVERSATION_TOPIC: u16 = 0x0070;
    pub const CONVERSATION_INDEX: u16 = 0x0071;
    pub const RECEIVED_BY_EMAIL_ADDRESS: u16 = 0x0076;
    pub const TRANSPORT_MESSAGE_HEADERS: u16 = 0x007D;
    pub const SENDER_ENTRY_ID: u16 = 0x0C19;
    pub const SENDER_NAME: u16 = 0x0C1A;
    pub const SENDER_ADDRESS_TYPE: u16 = 0x0C1E;
    pub const SENDER_EMAIL_ADDRESS: u16 = 0x0C1F;
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    pub const DISPLAY_BCC: u16 = 0x0E02;
    pub const DISPLAY_CC: u16 = 0x0E03;
    pub const DISPLAY_TO: u16 = 0x0E04;
    pub const MESSAGE_DELIVERY_TIME: u16 = 0x0E06;
    pub const MESSAGE_FLAGS: u16 = 0x0E07;
    pub const MESSAGE_SIZE: u16 = 0x0E08;
    pub const HAS_ATTACHMENTS: u16 = 0x0E1B;
    pub const NORMALIZED_SUBJECT: u16 = 0x0E1D;
    pub const RTF_IN_SYNC: u16 = 0x0E1F;
    pub const ATTACH_SIZE: u16 = 0x0E20;
    pub const ATTACH_NUMBER: u16 = 0x0E21;
    pub const RECORD_KEY: u16 = 0x0FF9;
    pub const OBJECT_TYPE: u16 = 0x0FFE;
    pub const ENTRY_ID: u16 = 0x0FFF;
    pub const BODY: u16 = 0x1000;
    pub const RTF_COMPRESSED: u16 = 0x1009;
    pub const HTML: u16 = 0x1013;
    pub const NATIVE_BODY: u16 = 0x1016;
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    pub const INTERNET_REFERENCES: u16 = 0x1039;
    pub const IN_REPLY_TO_ID: u16 = 0x1042;
    pub const ROWID: u16 = 0x3000;
    pub const DISPLAY_NAME: u16 = 0x3001;
    pub const ADDRESS_TYPE: u16 = 0x3002;
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    pub const CREATION_TIME: u16 = 0x3007;
    pub const LAST_MODIFICATION_TIME: u16 = 0x3008;
    pub const SEARCH_KEY: u16 = 0x300B;
    pub const ATTACH_DATA: u16 = 0x3701;
    pub const ATTACH_ENCODING: u16 = 0x3702;
    pub const ATTACH_EXTENSION: u16 = 0x3703;
    pub const ATTACH_FILENAME: u16 = 0x3704;
    pub const ATTACH_METHOD: u16 = 0x3705;
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    pub const RENDERING_POSITION: u16 = 0x370B;
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    pub const ATTACH_CONTENT_BASE: u16 = 0x3711;
    pub const ATTACH_CONTENT_ID: u16 = 0x3712;
    pub const ATTACH_CONTENT_LOCATION: u16 = 0x3713;
    pub const ATTACH_FLAGS: u16 = 0x3714;
    pub const DISPLAY_TYPE: u16 = 0x3900;
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    pub const INTERNET_CODEPAGE: u16 = 0x3FDE;
    pub const MESSAGE_LOCALE_ID: u16 = 0x3FF1;
    pub const MESSAGE_CODEPAGE: u16 = 0x3FFD;
    pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
    pub const SENT_REPRESENTING_SMTP_ADDRESS: u16 = 0x5D02;
    pub const RECEIVED_BY_SMTP_ADDRESS: u16 = 0x5D07;
    pub const RECIPIENT_DISPLAY_NAME: u16 = 0x5FF6;
    pub const MID: u16 = 0x674A;
    pub const ATTACHMENT_HIDDEN: u16 = 0x7FFE;
}

/// The MS-OXPROPS name of a tagged property id, when it is one this crate knows.
pub fn prop_name(prop_id: u16) -> Option<&'static str> {
    Some(match prop_id {
        id::MESSAGE_CLASS => "PidTagMessageClass",
        id::IMPORTANCE => "PidTagImportance",
        id::ORIGINATOR_DELIVERY_REPORT_REQUESTED => "PidTagOriginatorDeliveryReportRequested",
        id::PRIORITY => "PidTagPriority",
        id::READ_RECEIPT_REQUESTED => "PidTagReadReceiptRequested",
        id::SENSITIVITY => "PidTagSensitivity",
        id::SUBJECT => "PidTagSubject",
        id::CLIENT_SUBMIT_TIME => "PidTagClientSubmitTime",
        id::SENT_REPRESENTING_SEARCH_KEY => "PidTagSentRepresentingSearchKey",
        id::SUBJECT_PREFIX => "PidTagSubjectPrefix",
        id::RECEIVED_BY_NAME => "PidTagReceivedByName",
        id::SENT_REPRESENTING_ENTRY_ID => "PidTagSentRepresentingEntryId",
        id::SENT_REPRESENTING_NAME => "PidTagSentRepresentingName",
        id::REPLY_RECIPIENT_ENTRIES => "PidTagReplyRecipientEntries",
        id::REPLY_RECIPIENT_NAMES => "PidTagReplyRecipientNames",
        id::SENT_REPRESENTING_ADDRESS_TYPE => "PidTagSentRepresentingAddressType",
        id::SENT_REPRESENTING_EMAIL_ADDRESS => "PidTagSentRepresentingEmailAddress",
        id::CONVERSATION_TOPIC => "PidTagConversationTopic",
        id::CONVERSATION_INDEX => "PidTagConversationIndex",
        id::RECEIVED_BY_EMAIL_ADDRESS => "PidTagReceivedByEmailAddress",
        id::TRANSPORT_MESSAGE_HEADERS => "PidTagTransportMessageHeaders",
        id::SENDER_ENTRY_ID => "PidTagSenderEntryId",
        id::SENDER_NAME => "PidTagSenderName",
        id::SENDER_ADDRESS_TYPE => "PidTagSenderAddressType",
        id::SENDER_EMAIL_ADDRESS => "PidTagSenderEmailAddress",
        id::RECIPIENT_TYPE => "PidTagRecipientType",
        id::DISPLAY_BCC => "PidTagDisplayBcc",
        id::DISPLAY_CC => "PidTagDisplayCc",
        id::DISPLAY_TO => "PidTagDisplayTo",
        id::MESSAGE_DELIVERY_TIME => "PidTagMessageDeliveryTime",
        id::MESSAGE_FLAGS => "PidTagMessageFlags",
        id::MESSAGE_SIZE => "PidTagMessageSize",
        id::HAS_ATTACHMENTS => "PidTagHasAttachments",
        id::NORMALIZED_SUBJECT => "PidTagNormalizedSubject",
        id::RTF_IN_SYNC => "PidTagRtfInSync",
        id::ATTACH_SIZE => "PidTagAttachSize",
        id::ATTACH_NUMBER => "PidTagAttachNumber",
        id::RECORD_KEY => "PidTagRecordKey",
        id::OBJECT_TYPE => "PidTagObjectType",
        id::ENTRY_ID => "PidTagEntryId",
        id::BODY => "PidTagBody",
        id::RTF_COMPRESSED => "PidTagRtfCompressed",
        id::HTML => "PidTagHtml",
        id::NATIVE_BODY => "PidTagNativeBody",
        id::INTERNET_MESSAGE_ID => "PidTagInternetMessageId",
        id::INTERNET_REFERENCES => "PidTagInternetReferences",
        id::IN_REPLY_TO_ID => "PidTagInReplyToId",
        id::ROWID => "PidTagRowid",
        id::DISPLAY_NAME => "PidTagDisplayName",
        id::ADDRESS_TYPE => "PidTagAddressType",
        id::EMAIL_ADDRESS => "PidTagEmailAddress",
        id::CREATION_TIME => "PidTagCreationTime",
        id::LAST_MODIFICATION_TIME => "PidTagLastModificationTime",
        id::SEARCH_KEY => "PidTagSearchKey",
        id::ATTACH_DATA => "PidTagAttachDataBinary",
        id::ATTACH_ENCODING => "PidTagAttachEncoding",
        id::ATTACH_EXTENSION => "PidTagAttachExtension",
        id::ATTACH_FILENAME => "PidTagAttachFilename",
        id::ATTACH_METHOD => "PidTagAttachMethod",
        id::ATTACH_LONG_FILENAME => "PidTagAttachLongFilename",
        id::RENDERING_POSITION => "PidTagRenderingPosition",
        id::ATTACH_MIME_TAG => "PidTagAttachMimeTag",
        id::ATTACH_CONTENT_BASE => "PidTagAttachContentBase",
        id::ATTACH_CONTENT_ID => "PidTagAttachContentId",
        id::ATTACH_CONTENT_LOCATION => "PidTagAttachContentLocation",
        id::ATTACH_FLAGS => "PidTagAttachFlags",
        id::DISPLAY_TYPE => "PidTagDisplayType",
        id::SMTP_ADDRESS => "PidTagSmtpAddress",
        id::INTERNET_CODEPAGE => "PidTagInternetCodepage",
        id::MESSAGE_LOCALE_ID => "PidTagMessageLocaleId",
        id::MESSAGE_CODEPAGE => "PidTagMessageCodepage",
        id::SENDER_SMTP_ADDRESS => "PidTagSenderSmtpAddress",
        id::SENT_REPRESENTING_SMTP_ADDRESS => "PidTagSentRepresentingSmtpAddress",
        id::RECEIVED_BY_SMTP_ADDRESS => "PidTagReceivedBySmtpAddress",
        id::RECIPIENT_DISPLAY_NAME => "PidTagRecipientDisplayName",
        id::MID => "PidTagMid",
        id::ATTACHMENT_HIDDEN => "PidTagAttachmentHidden",
        _ => return None,
    })
}
