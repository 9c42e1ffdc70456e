BEGIN TRANSACTION;
CREATE TABLE devices (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	dialect VARCHAR(16) NOT NULL, 
	platform VARCHAR(256) NOT NULL, 
	description VARCHAR(256) NOT NULL, 
	driver VARCHAR(128) NOT NULL, 
	target TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "devices" VALUES(1,'pocl-cpu','cpu','opencl','Portable Computing Language','pthread','3.1','{"arch": "cpu", "bandwidth_gbs": 0.0, "compute_units": 2, "dialect": "opencl", "kind": "cpu", "max_accumulators": 128, "max_local_bytes": 524288, "max_threads": 4096, "max_threads_with_barriers": 0, "max_unrolled_updates": 4096, "name": "pocl-cpu", "peak_gflops": 0.0}');
INSERT INTO "devices" VALUES(2,'h100','gpu','cuda','CUDA','NVIDIA H100','580.159','{"arch": "hopper", "bandwidth_gbs": 0.0, "compute_units": 132, "dialect": "cuda", "kind": "gpu", "max_accumulators": 256, "max_local_bytes": 49152, "max_threads": 1024, "max_threads_with_barriers": 0, "max_unrolled_updates": 4096, "name": "h100", "peak_gflops": 0.0}');
CREATE TABLE trials (
	id INTEGER NOT NULL, 
	workload_id INTEGER NOT NULL, 
	device_id INTEGER NOT NULL, 
	schedule TEXT NOT NULL, 
	schedule_key VARCHAR(64) NOT NULL, 
	generator_version INTEGER NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	latency_s FLOAT, 
	samples TEXT NOT NULL, 
	protocol TEXT NOT NULL, 
	error TEXT NOT NULL, 
	compile_s FLOAT NOT NULL, 
	max_rel_error FLOAT, 
	job VARCHAR(128) NOT NULL, 
	details TEXT NOT NULL, 
	confirmed BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(workload_id) REFERENCES workloads (id), 
	FOREIGN KEY(device_id) REFERENCES devices (id)
);
INSERT INTO "trials" VALUES(1,1,1,'{"cache":[],"reduce":[1],"sketch":"tile","spatial":[[1,1,1],[1,1,1],[1,1,1]],"unroll":0,"vector":1}','dbee7bbe1d2ec8cd04afa222',1,'ok',3.0e-05,'[3e-05, 3.03e-05, 2.97e-05]','{"min_repeats": 3}','',0.25,1.0e-07,'nightly-1','{"worker": "w0"}',0,'2026-11-21 19:22:40.217097');
INSERT INTO "trials" VALUES(2,1,1,'{"cache":[],"reduce":[1],"sketch":"tile","spatial":[[1,1,1],[1,1,1],[1,2,1]],"unroll":0,"vector":1}','102a048b2d85ff07b08ddd11',1,'ok',2.0e-05,'[2e-05, 2.0200000000000003e-05, 1.98e-05]','{"min_repeats": 3}','',0.25,1.0e-07,'nightly-1','{"worker": "w1"}',0,'2026-11-21 19:22:40.217105');
INSERT INTO "trials" VALUES(3,1,1,'{"cache":[],"reduce":[1],"sketch":"tile","spatial":[[1,1,1],[1,1,1],[1,4,1]],"unroll":0,"vector":1}','8aebb1eccb02a2852d0758f6',1,'wrong_result',1.0e-06,'[1e-06, 1.0099999999999999e-06, 9.9e-07]','{"min_repeats": 3}','wrong_result text',0.25,1.0e-07,'nightly-1','{"worker": "w2"}',0,'2026-11-21 19:22:40.217109');
INSERT INTO "trials" VALUES(4,1,1,'{"cache":[],"reduce":[1],"sketch":"tile","spatial":[[1,1,1],[1,1,1],[1,8,1]],"unroll":0,"vector":1}','d08095ad4fc8c313a33a8074',1,'compile_error',NULL,'[]','{"min_repeats": 3}','compile_error text',0.25,NULL,'','{"worker": "w3"}',0,'2026-11-21 19:22:40.217112');
INSERT INTO "trials" VALUES(5,1,2,'{"cache":[],"reduce":[1],"sketch":"tile","spatial":[[1,1,1],[1,1,1],[1,1,1]],"unroll":0,"vector":1}','dbee7bbe1d2ec8cd04afa222',1,'ok',4.0e-06,'[4e-06, 4.0399999999999994e-06, 3.96e-06]','{"min_repeats": 3}','',0.25,1.0e-07,'fleet-a','{"worker": "w4"}',0,'2026-11-21 19:22:40.217114');
INSERT INTO "trials" VALUES(6,2,1,'{"cache":[],"reduce":[1,1,1],"sketch":"tile","spatial":[[1,1,1],[1,1,1],[1,1,1],[1,2,1]],"unroll":0,"vector":1}','54246282f612ea4a55d79150',1,'ok',9.0e-05,'[9e-05, 9.09e-05, 8.910000000000001e-05]','{"min_repeats": 3}','',0.25,1.0e-07,'','{"worker": "w5"}',0,'2026-11-21 19:22:40.217115');
INSERT INTO "trials" VALUES(7,2,1,'{"cache":[],"reduce":[1,1,1],"sketch":"tile","spatial":[[1,1,1],[1,1,1],[1,1,1],[1,4,1]],"unroll":0,"vector":1}','2d06e76dacb46dee6ae4fa47',1,'timeout',NULL,'[]','{"min_repeats": 3}','timeout text',0.25,NULL,'fleet-a','{"worker": "w6"}',0,'2026-11-21 19:22:40.217117');
CREATE TABLE workloads (
	id INTEGER NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	op VARCHAR(64) NOT NULL, 
	layout VARCHAR(16) NOT NULL, 
	dtype VARCHAR(16) NOT NULL, 
	params TEXT NOT NULL, 
	text TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "workloads" VALUES(1,'30af420a28ecbc25acfcf70967dc9b67','matmul','','float32','{"B": 1, "M": 64, "N": 32, "K": 64}','matmul|float32||B=1,M=64,N=32,K=64');
INSERT INTO "workloads" VALUES(2,'4ae0bf5e0cd46e7819d9bce434e0f9ab','conv2d','NCHW','float32','{"N": 1, "H": 14, "W": 14, "CI": 16, "CO": 16, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1, "groups": 1}','conv2d|float32|NCHW|N=1,H=14,W=14,CI=16,CO=16,kernel=3,stride=1,padding=1,dilation=1,groups=1');
CREATE INDEX ix_workloads_op ON workloads (op);
CREATE UNIQUE INDEX ix_workloads_key ON workloads ("key");
CREATE UNIQUE INDEX ix_devices_name ON devices (name);
CREATE INDEX ix_trials_best ON trials (workload_id, device_id, status, latency_s);
CREATE INDEX ix_trials_schedule ON trials (workload_id, device_id, schedule_key);
COMMIT;
