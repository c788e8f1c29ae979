//! Typed async client for the Microsoft Graph mailbox import/export API.
