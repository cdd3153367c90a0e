package postgres

// QueueChannel is queueChannel, for the tests that find the connection listening on it.
var QueueChannel = queueChannel
