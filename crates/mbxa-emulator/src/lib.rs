//! A local, faithful emulator of the Microsoft Graph mailbox import/export API.
