PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE templates (
	id BIGINT NOT NULL, 
	template TEXT NOT NULL, 
	parent_id BIGINT, 
	first_seen DATETIME NOT NULL, 
	last_seen DATETIME NOT NULL, 
	count BIGINT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE window_counts (
	stream TEXT NOT NULL, 
	window_start DATETIME NOT NULL, 
	window_end DATETIME NOT NULL, 
	template_id BIGINT NOT NULL, 
	count BIGINT NOT NULL, 
	CONSTRAINT window_counts_pkey PRIMARY KEY (stream, window_start, template_id)
);
INSERT INTO window_counts VALUES('web','2024-03-01 12:00:00.000000','2024-03-01 12:00:10.000000',-1,40);
CREATE TABLE anomalies (
	id INTEGER NOT NULL, 
	fingerprint TEXT NOT NULL, 
	detector TEXT NOT NULL, 
	kind TEXT NOT NULL, 
	stream TEXT NOT NULL, 
	window_start DATETIME NOT NULL, 
	window_end DATETIME NOT NULL, 
	template_id BIGINT, 
	template TEXT, 
	session TEXT, 
	expected FLOAT, 
	observed FLOAT, 
	score FLOAT NOT NULL, 
	severity TEXT NOT NULL, 
	severity_rank INTEGER NOT NULL, 
	examples JSON NOT NULL, 
	explanation TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	status TEXT DEFAULT 'open' NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (fingerprint)
);
INSERT INTO anomalies VALUES(1,'frequency|spike|web|7|None|1709294400000000000|1709294410000000000','frequency','spike','web','2024-03-01 12:00:00.000000','2024-03-01 12:00:10.000000',7,'GET <*> 500',NULL,3.0,40.0,0.9000000000000000222,'high',40,'["GET /a 500"]','x','2026-12-03 20:06:13.753073','open');
CREATE TABLE mutes (
	id INTEGER NOT NULL, 
	stream TEXT, 
	template_id BIGINT, 
	until DATETIME NOT NULL, 
	reason TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	anomaly_id INTEGER NOT NULL, 
	channel TEXT NOT NULL, 
	status TEXT DEFAULT 'pending' NOT NULL, 
	attempts INTEGER DEFAULT '0' NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	last_error TEXT, 
	created_at DATETIME NOT NULL, 
	delivered_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT alerts_anomaly_channel_key UNIQUE (anomaly_id, channel), 
	FOREIGN KEY(anomaly_id) REFERENCES anomalies (id) ON DELETE CASCADE
);
CREATE TABLE feedback (
	id INTEGER NOT NULL, 
	anomaly_id INTEGER NOT NULL, 
	action TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(anomaly_id) REFERENCES anomalies (id) ON DELETE CASCADE
);
CREATE INDEX window_counts_start_idx ON window_counts (window_start);
CREATE INDEX anomalies_stream_window_end_idx ON anomalies (stream, window_end);
CREATE INDEX anomalies_status_created_idx ON anomalies (status, created_at);
CREATE INDEX anomalies_window_end_idx ON anomalies (window_end, id);
CREATE INDEX mutes_until_idx ON mutes (until);
CREATE INDEX alerts_due_idx ON alerts (status, next_attempt_at);
COMMIT;
