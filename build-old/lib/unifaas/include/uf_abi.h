/*
 * uf_abi.h - the hypercall ABI between a unifaas guest (libuf) and a tender.
 *
 * This header is the contract: it is compiled into both sides and versioned
 * by UF_ABI_VERSION, which every image carries in an ELF note (".note.unifaas",
 * name "unifaas", type UF_NOTE_ABI, a 32-bit version).  A tender refuses an
 * image whose version differs.
 *
 * Privilege: on x86-64 the guest runs entirely in ring 3 (CPL 3).  The
 * tender sets up everything privileged (GDT, TSS, IDT, page tables, syscall
 * MSRs) before the first instruction, using the entry points named in the
 * image's note.  No I/O port is open to the guest (the TSS has no I/O
 * permission bitmap).  On aarch64 the guest runs at EL1 on SP_EL0, its
 * exceptions on SP_EL1; the tender sets the page tables, the MMU and
 * VBAR_EL1 (the vectors the note names) before the first instruction.
 *
 * Transport (ABI 7): the guest stores the 32-bit guest-physical address of
 * an argument struct, with one 32-bit store, to UF_HC_ADDR(call): slot
 * `call` of the hypercall page UF_HC_PAGE.  That page lies outside guest
 * memory (no KVM memory slot), so the store is not performed but exits to
 * the tender (KVM_EXIT_MMIO), which reads the call from the address and the
 * argument from the stored value: one exit per call, on every KVM (no I/O
 * permission bitmap, which emulated SVM rejects; aarch64, which has no port
 * I/O, shares it: only the store instruction differs, guest/hypercall.h).
 * Guest virtual = guest physical, so the value is the struct's pointer.  The
 * tender validates every address and length against guest memory before it
 * touches them; a malformed call (or any other access to the hypercall
 * page: a read, a store of another width, an offset that is no call's
 * slot) ends the unit with UF_END_BAD_HYPERCALL.  Fields marked "out" are
 * written by the tender before the guest resumes.
 *
 * All structs use fixed-width fields and explicit padding so that both
 * compilers lay them out identically; sizes are checked by static asserts.
 */
#ifndef UF_ABI_H
#define UF_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* 3: pop settles the previous batch (uf_hc_pop.commit); 4 (issue 9's
 * edges): an event record carries where the event came from (source,
 * attrs), a commit carries outputs (uf_reply, uf_mqtt_publish),
 * UF_HC_TOPIC checks a publish topic, and uf_hc_http gains response
 * headers, a timeout and the event id; an image built for 3 would read the
 * records wrong and is refused; 5: a commit may carry a failed event's
 * reason (UF_OUTPUT_REASON), which a tender built for 4 would take for a
 * malformed record and end the unit: it refuses the image instead; 6: a
 * commit may defer an event (UF_RESULT_DEFERRED with a UF_OUTPUT_DEFER
 * record: uf_defer), which a tender built for 5 would take for a failure
 * code and a malformed record; 7: hypercalls are stores to the hypercall
 * page (UF_HC_ADDR) instead of OUTs to I/O ports, which a tender built for
 * 6 no longer opens. */
#define UF_ABI_VERSION 7u
#define UF_NOTE_NAME   "unifaas"
#define UF_NOTE_ABI    1u
/*
 * The note's descriptor (UF_NOTE_DESC_SIZE bytes, little-endian):
 *   u32 abi_version, u32 reserved (0),
 *   u64 x86-64: the syscall entry (LSTAR: where musl's `syscall` lands);
 *       aarch64: the exception vector table (VBAR_EL1: UF_VECTORS_SIZE
 *       bytes of text, UF_VECTORS_ALIGN-aligned; musl's `svc #0` lands in
 *       its first entry),
 *   u64 x86-64: the exception table (32 u64 handler addresses for vectors
 *       0..31, in read-only data); aarch64: 0.
 * The ELF header's machine is the image's architecture.
 */
#define UF_NOTE_DESC_SIZE 24u
#define UF_VECTORS_SIZE   0x800u
#define UF_VECTORS_ALIGN  0x800u

/* ---- guest memory layout (guest physical = guest virtual) ---------------- */
#define UF_PAGE_SIZE     4096u
#define UF_GDT_ADDR      0x1000u /* GDT, TSS, IDT: supervisor-only          */
#define UF_TSS_ADDR      0x1800u /* TSS (no I/O permission bitmap)          */
#define UF_IDT_ADDR      0x1c00u
#define UF_BOOTINFO_ADDR 0x2000u /* struct uf_bootinfo, read-write          */
#define UF_IST_GUARD     0x3000u /* not mapped: catches IST stack overflow  */
#define UF_IST_LO        0x4000u /* exception stack [UF_IST_LO, UF_IST_TOP), supervisor-only */
#define UF_IST_TOP       0x10000u
#define UF_PT_ADDR       0x10000u  /* page tables, not mapped for the guest   */
#define UF_IMAGE_BASE    0x100000u /* images are linked to load here          */
#define UF_MEM_MIN       (4u << 20)
#define UF_MEM_MAX       (1024u << 20)
/*
 * The hypercall page: guest-physical (= virtual) UF_HC_PAGE, at least
 * 1 GiB above the top of any guest memory, so no overrun of the heap or the
 * stack can reach it (the gap is unmapped: #PF).  No memory is behind it:
 * the page tables map it for ring 3, writable and non-executable, and every
 * access to it exits to the tender.  Call n's slot is UF_HC_ADDR(n), 8
 * bytes apart (room for a 64-bit store on a port that needs one).
 */
#define UF_HC_PAGE       0x80000000
#define UF_HC_SLOT       8
#define UF_HC_ADDR(call) (UF_HC_PAGE + UF_HC_SLOT * (unsigned)(call))

/*
 * How a unit ended: the tender's process exit status.  Shared by every tender
 * and by whatever starts them (CLI, unifaasd).  The tender also prints one
 * line to stderr giving the reason.
 */
#define UF_END_EXIT          0 /* guest exited with status 0                  */
#define UF_END_ERROR         1 /* guest exited non-zero or aborted            */
#define UF_END_USAGE         2 /* bad options, unreadable or invalid image    */
#define UF_END_FAULT         3 /* CPU exception in the guest                  */
#define UF_END_TIMEOUT       4 /* an event used more than its CPU time limit  */
#define UF_END_OOM           5 /* guest memory budget exhausted               */
#define UF_END_BAD_HYPERCALL 6 /* malformed hypercall (pointer, length, port) */
#define UF_END_INTERNAL      7 /* host-side failure (KVM, I/O, backend)       */
#define UF_END_NET           8 /* --tap device missing, busy or not allowed   */

#define UF_SEL_CODE  0x08u
#define UF_SEL_DATA  0x10u
#define UF_SEL_UDATA 0x23u /* user data, RPL 3 */
#define UF_SEL_UCODE 0x2bu /* user 64-bit code, RPL 3 */
#define UF_SEL_TSS   0x30u

#define UF_BOOTINFO_MAGIC 0x75666269u /* "ufbi" */
#define UF_BI_FSGSBASE    1u          /* ring 3 may use WRFSBASE; else UF_HC_SETFS */

#ifndef __ASSEMBLER__

/*
 * Filled by the tender before the first instruction; the guest reads it and
 * writes only `progress`.
 */
struct uf_bootinfo {
	uint32_t magic;       /* UF_BOOTINFO_MAGIC                               */
	uint32_t abi_version; /* UF_ABI_VERSION of the tender                    */
	uint64_t mem_size;    /* bytes of guest memory, from address 0           */
	uint64_t heap_start;  /* first free page after the image                 */
	uint64_t heap_end;    /* first byte of the stack guard page              */
	uint64_t stack_lo;    /* lowest byte of the stack                        */
	uint64_t stack_top;   /* initial stack pointer region ends here          */
	uint64_t progress;    /* guest: number of events it has started handling */
	uint32_t idle_ms;     /* how long the default loop waits for more work   */
	uint32_t batch_max;   /* most events one pop may return                  */
	uint32_t flags;       /* UF_BI_*                                         */
	/* What one event may stage (common/event_limits.h; 0: not given, libuf uses
	 * its defaults): past one, the staging call fails and so does the
	 * event.  lim_manifest bit i: limit i (enum uf_limit) was set by the
	 * function's manifest, else it is the node's (named in the reason). */
	uint32_t lim_writes;       /* pushes, publishes and KV writes of one event */
	uint32_t lim_value_bytes;  /* bytes of one KV value                        */
	uint32_t lim_event_bytes;  /* bytes of one pushed or published event       */
	uint32_t lim_commit_bytes; /* bytes one event's commit writes              */
	uint32_t lim_manifest;
	uint64_t reserved;
};

/* ---- hypercalls ----------------------------------------------------------- */

enum uf_hc {
	UF_HC_CONSOLE = 0, /* struct uf_hc_console                          */
	UF_HC_TIME = 1,    /* struct uf_hc_time                             */
	UF_HC_RANDOM = 2,  /* struct uf_hc_random                           */
	UF_HC_EXIT = 3,    /* struct uf_hc_exit; never returns              */
	UF_HC_FAULT = 4,   /* struct uf_hc_fault; never returns             */
	UF_HC_POP = 5,     /* struct uf_hc_pop                              */
	UF_HC_COMMIT = 6,  /* struct uf_hc_commit                           */
	UF_HC_KV = 7,      /* struct uf_hc_kv                               */
	UF_HC_HTTP = 8,    /* struct uf_hc_http (egress through unifaasd)   */
	UF_HC_NET = 9,     /* struct uf_hc_net (raw frames on a TAP device) */
	UF_HC_YIELD = 10,  /* struct uf_hc_yield                            */
	UF_HC_SETFS = 11,  /* struct uf_hc_setfs (when WRFSBASE is missing) */
	UF_HC_TOPIC = 12,  /* struct uf_hc_topic (may this unit publish there?) */
	UF_HC_COUNT
};

/* Status codes written to `ret` fields: 0 or a negative Linux errno. */

struct uf_hc_console {
	uint64_t buf; /* in: bytes to write                         */
	uint64_t len; /* in: at most UF_CONSOLE_MAX                 */
	uint32_t fd;  /* in: 1 stdout, 2 stderr                     */
	int32_t ret;  /* out: 0 or -errno                           */
};
#define UF_CONSOLE_MAX (1u << 20)

#define UF_CLOCK_WALL 0u
#define UF_CLOCK_MONO 1u
struct uf_hc_time {
	uint32_t clock; /* in: UF_CLOCK_*                             */
	int32_t ret;    /* out                                         */
	uint64_t ns;    /* out: nanoseconds (since the epoch for WALL) */
};

struct uf_hc_random {
	uint64_t buf; /* in */
	uint64_t len; /* in: at most UF_RANDOM_MAX */
	int32_t ret;  /* out */
	uint32_t pad;
};
#define UF_RANDOM_MAX 256u

/* Why the guest ends. */
#define UF_EXIT_NORMAL 0u /* exit(status)                                  */
#define UF_EXIT_ABORT  1u /* abort() or a fatal signal raised on itself     */
#define UF_EXIT_OOM    2u /* the runtime could not get memory to go on      */
struct uf_hc_exit {
	uint32_t kind;  /* in: UF_EXIT_*                                   */
	int32_t status; /* in: exit status (NORMAL) or signal (ABORT)       */
	uint64_t msg;   /* in: optional NUL-free text, 0 for none           */
	uint64_t msg_len;
};

/*
 * Reported by libuf's exception stubs, with the field names of x86-64:
 *  x86-64: exactly the frame on the IST stack (the CPU's interrupt frame
 *    with the vector and an error code pushed in front); the tender reads
 *    CR2 itself.
 *  aarch64 (libuf's vector table, taken on SP_EL1): vector = the table's
 *    entry 0..15 (VBAR_EL1 + 0x80 * vector: 0-3 from SP_EL0, which the
 *    guest runs on, 4-7 from SP_EL1, the exception stack); error = ESR_EL1
 *    (its class says what happened); rip = ELR_EL1 (the faulting
 *    instruction); cs = FAR_EL1 (the faulting address, for aborts and
 *    alignment faults); rflags = SPSR_EL1; rsp = the stack pointer in use
 *    at the fault; ss = 0.
 */
struct uf_hc_fault {
	uint64_t vector; /* x86-64: CPU exception vector 0..31; aarch64: vector table entry 0..15 */
	uint64_t error;  /* x86-64: error code, 0 if none; aarch64: ESR_EL1                     */
	uint64_t rip;    /* aarch64: ELR_EL1  */
	uint64_t cs;     /* aarch64: FAR_EL1  */
	uint64_t rflags; /* aarch64: SPSR_EL1 */
	uint64_t rsp;    /* aarch64: SP       */
	uint64_t ss;     /* aarch64: 0        */
};

/*
 * Pop: the tender writes up to max_events records into [buf, buf+cap):
 *   struct uf_rec_event, then id NUL, queue NUL, data NUL, source NUL,
 *   attrs NUL, padded to 8 bytes.
 * source is the MQTT topic or HTTP path the event arrived on, attrs a JSON
 * object of its CloudEvents attributes and content type; each is empty
 * (length 0) when the event has none (pushed by a function, the CLI, the
 * control API).
 * status UF_POP_TOOBIG: the next event needs `needed` bytes of buffer.
 * status UF_POP_DRAINED: no event came within timeout_ms (or, in local run
 * mode, the input is exhausted); count is 0.
 */
#define UF_POP_OK      0
#define UF_POP_DRAINED 1
#define UF_POP_TOOBIG  2
struct uf_hc_pop {
	uint64_t buf;        /* in */
	uint64_t cap;        /* in */
	uint32_t max_events; /* in: 1..UF_BATCH_MAX */
	uint32_t timeout_ms; /* in: wait this long for the first event */
	uint32_t count;      /* out */
	int32_t status;      /* out: UF_POP_* or -errno */
	uint64_t needed;     /* out: with UF_POP_TOOBIG */
	uint64_t used;       /* out: bytes written */
	uint64_t commit;     /* in: 0, or a struct uf_hc_commit for the batch in
	                      * flight, settled first (one exit instead of two) */
};
#define UF_BATCH_MAX 256u
#define UF_ID_MAX    64u
#define UF_QUEUE_MAX 128u

/* A queue name: 1..UF_QUEUE_MAX bytes of [A-Za-z0-9._-]. */
static inline int uf_queue_name_ok(const char *q, uint64_t n)
{
	if (n == 0 || n > UF_QUEUE_MAX)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		char c = q[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

struct uf_rec_event {
	uint32_t id_len;    /* bytes, without the NUL */
	uint32_t queue_len; /* bytes, without the NUL */
	uint64_t data_len;  /* bytes, without the NUL */
	uint64_t time_ms;   /* receive time, ms since the epoch */
	uint32_t src_len;   /* bytes of source, without the NUL */
	uint32_t attrs_len; /* bytes of attrs, without the NUL */
};
#define UF_REC_ALIGN 8u

/*
 * Commit the batch returned by the last pop (events [0, count)).
 * results[i] == 0 acknowledges event i; UF_RESULT_SKIPPED hands it back
 * unhandled (the unit exited before reaching it: it is delivered again and
 * the attempt does not count as a failure); any other value fails it with
 * that code (it will be retried or dead-lettered).  Staged pushes are records
 *   struct uf_rec_push, queue NUL, data NUL, padded to 8 bytes,
 * each naming the event (index) whose handler staged it; pushes of failed
 * events must not be present.  Staged KV writes are records
 *   struct uf_rec_kv, key NUL, value NUL (SET only), padded to 8 bytes,
 * in the order the handlers made them, each naming its event (which must be
 * acknowledged, as for pushes).  Staged outputs are records
 *   struct uf_rec_out, topic NUL, data NUL, padded to 8 bytes,
 * each naming its (acknowledged) event: UF_OUTPUT_REPLY, the result an
 * invoke-and-wait caller gets (at most one per event; topic_len and qos 0),
 * or UF_OUTPUT_MQTT, a message to publish on an MQTT topic name (1..65535
 * bytes of UTF-8 without NUL, '+' or '#') with QoS 0 or 1, which the tender
 * adds to the MQTT outbox, or UF_OUTPUT_REASON, why a *failed* event
 * failed (at most one per event; topic_len and qos 0; 1..UF_REASON_MAX
 * bytes of UTF-8 without control characters), which the tender records as
 * the reason of that event's re-queue or dead letter instead of "handler
 * returned N".  Pushes, KV writes, outputs and acks are applied
 * together, atomically; a tender may still fail an acknowledged event at
 * commit (a push to a queue the unit is not granted, a publish to a topic
 * it may not use), and then drops that event's pushes, KV writes and
 * outputs.  Any other kind, or a reason naming an acknowledged event, ends
 * the unit with UF_END_BAD_HYPERCALL.
 */
#define UF_RESULT_OK       0
#define UF_RESULT_SKIPPED  INT32_MIN
#define UF_RESULT_DEFERRED (INT32_MIN + 1) /* uf_defer: delivered again later, not a failure */
/*
 * A permanent failure (uf_fail_permanent): a failed event, with its reason
 * as any, that is dead-lettered at once whatever the step's retries (common/
 * delivery.h).  A tender that predates it reads it as a failure code (the
 * event is retried, then dead-lettered): no ABI version of its own.
 */
#define UF_RESULT_PERMANENT (INT32_MIN + 2)
/*
 * A deferred event (results[i] == UF_RESULT_DEFERRED) is not committed: it
 * stages nothing but one UF_OUTPUT_DEFER record (topic_len 0; delay_ms
 * 0..UF_DEFER_MAX_MS; data: its reason, 1..UF_REASON_MAX bytes of UTF-8
 * without control characters), and is delivered again no earlier than
 * delay_ms after the commit, its attempt unchanged (common/delivery.h).  A
 * deferred result without its record is deferred by 0 ms with the reason
 * "deferred".  An event deferred UF_DEFER_MAX times already fails instead,
 * with the reason "deferred N times: <reason>".
 */
#define UF_DEFER_MAX    100u
#define UF_DEFER_MAX_MS 3600000u /* an hour: a longer delay is cut to it */
struct uf_rec_push {
	uint32_t event;     /* index into the batch */
	uint32_t queue_len; /* bytes, without the NUL */
	uint64_t data_len;  /* bytes, without the NUL */
};
struct uf_hc_commit {
	uint64_t results;    /* in: int32_t[count]            */
	uint64_t pushes;     /* in: staged push records        */
	uint64_t pushes_len; /* in: bytes of records           */
	uint32_t count;      /* in: events in the batch        */
	uint32_t npush;      /* in: number of push records     */
	int32_t ret;         /* out                            */
	uint32_t nkv;        /* in: number of KV records       */
	uint64_t kv;         /* in: staged KV write records    */
	uint64_t kv_len;     /* in: bytes of KV records        */
	uint64_t outs;       /* in: staged output records      */
	uint64_t outs_len;   /* in: bytes of output records    */
	uint32_t nout;       /* in: number of output records   */
	uint32_t pad;
};
#define UF_OUTPUT_REPLY    1u
#define UF_OUTPUT_MQTT     2u
#define UF_OUTPUT_REASON   3u
#define UF_OUTPUT_DEFER    4u         /* the delay and reason of a deferred event */
#define UF_REASON_MAX      1024u      /* bytes of a failure's reason */
#define UF_OUTPUT_DATA_MAX (1u << 20) /* bytes of one output's data */
struct uf_rec_out {
	uint32_t kind;      /* UF_OUTPUT_*                                */
	uint32_t event;     /* index into the batch                       */
	uint32_t topic_len; /* MQTT: 1..65535; REPLY, REASON, DEFER: 0    */
	union {
		uint32_t qos;      /* MQTT: 0 or 1; REPLY, REASON: 0      */
		uint32_t delay_ms; /* DEFER: 0..UF_DEFER_MAX_MS          */
	};
	uint64_t data_len; /* <= UF_OUTPUT_DATA_MAX, without the NUL     */
};

/* UF_HC_TOPIC: may this unit publish on topic [topic, +topic_len)?  ret 0
 * yes, -EINVAL it is not a topic name, -EPERM no filter of the function's
 * manifest `publish:` matches it (the tender logs one line).  libuf asks
 * before it stages a publish; the tender checks again at commit. */
struct uf_hc_topic {
	uint64_t topic;     /* in */
	uint32_t topic_len; /* in: 1..65535 */
	int32_t ret;        /* out */
};
/* A staged KV write: op is UF_KV_SET (val_len bytes of value follow the
 * key), UF_KV_INCR (add num) or UF_KV_DEL. */
struct uf_rec_kv {
	uint32_t op;      /* UF_KV_SET, UF_KV_INCR or UF_KV_DEL */
	uint32_t event;   /* index into the batch */
	uint32_t key_len; /* 1..UF_KEY_MAX, without the NUL */
	uint32_t pad;
	uint64_t val_len; /* SET: value bytes (<= UF_VALUE_MAX), without the NUL; else 0 */
	int64_t num;      /* INCR: the delta */
};

/* UF_HC_KV: GET reads the store as committed; SET, INCR and DEL take effect
 * at once.  libuf uses only GET: it stages writes in the commit instead. */
#define UF_KV_GET  0u
#define UF_KV_SET  1u
#define UF_KV_INCR 2u
#define UF_KV_DEL  3u
struct uf_hc_kv {
	uint32_t op;      /* in: UF_KV_*                                       */
	uint32_t key_len; /* in: 1..UF_KEY_MAX                                 */
	uint64_t key;     /* in                                                */
	uint64_t val;     /* in: SET value / GET buffer                        */
	uint64_t val_len; /* in: SET length / GET capacity; out: GET full size */
	int64_t num;      /* in: INCR delta; out: INCR result                  */
	int32_t ret;      /* out: 0, -ENOENT (GET/DEL of absent), -EINVAL, ...  */
	uint32_t pad;
};
#define UF_KEY_MAX   512u
#define UF_VALUE_MAX (16u << 20)

/*
 * Outbound HTTP(S) (uf_http).  The tender does not speak HTTP: it forwards
 * the request over a unix socket to unifaasd's egress server (common/
 * egress.h), which checks the URL against the function's manifest
 * `egress:` prefixes and makes the call with libcurl.  Without an egress
 * server (a local run without --allow-egress) the call answers -ENOSYS.
 * Lengths past the UF_HTTP_*_MAX limits, and pointers outside guest memory
 * (buffers the tender writes must be writable), are malformed calls.
 * ret: 0 (status, headers and body filled), or -EPERM (URL not allowed),
 * -EINVAL (bad method, URL or header), -ETIMEDOUT, -EPROTO (TLS failed),
 * -ECONNREFUSED, -EHOSTUNREACH, -EFBIG (body past the platform's cap),
 * -EIO.  resp_len and resp_headers_len are the full lengths: larger than
 * the capacities when the guest's buffers were too small (truncated).
 */
#define UF_HTTP_METHOD_MAX       16u
#define UF_HTTP_URL_MAX          2048u
#define UF_HTTP_HEADERS_MAX      (16u << 10) /* request header lines               */
#define UF_HTTP_BODY_MAX         (4u << 20)  /* request body                       */
#define UF_HTTP_RESP_MAX         (16u << 20) /* most of a response body returned   */
#define UF_HTTP_RESP_HEADERS_MAX (64u << 10)
#define UF_HTTP_TIMEOUT_MAX      300000u /* ms: a longer per-call timeout is capped */
struct uf_hc_http {
	uint64_t method, method_len;             /* in: "GET", "POST", ... (A-Z)            */
	uint64_t url, url_len;                   /* in                                       */
	uint64_t headers, headers_len;           /* in: "Name: value\r\n" lines             */
	uint64_t body, body_len;                 /* in                                       */
	uint64_t event_id, event_id_len;         /* in: the event being handled (0 if none): sent
	                                          * as the Idempotency-Key header            */
	uint64_t resp, resp_cap;                 /* in: response body buffer (writable)      */
	uint64_t resp_len;                       /* out: full body length                    */
	uint64_t resp_headers, resp_headers_cap; /* in: buffer for the response's
	                                          * "Name: value\r\n" lines        */
	uint64_t resp_headers_len;               /* out: full length of those lines          */
	uint32_t timeout_ms;                     /* in: total time for the call, 0 = platform
	                                          * default; capped by the platform          */
	int32_t status;                          /* out: HTTP status                         */
	int32_t ret;                             /* out: 0 or -errno                         */
	uint32_t pad;
};

/*
 * Raw Ethernet frames on the unit's TAP device (uf-hvt --tap; manifest
 * `net: true`).  Frames are whole Ethernet frames without preamble or FCS:
 * destination MAC, source MAC, EtherType, payload.  Without a TAP device
 * every op answers -ENOSYS.
 *   READ:  wait up to timeout_ms (0 = just look) for one frame and copy it to
 *          [buf, +len) (writable, len 1..UF_NET_BUF_MAX); ret = its length,
 *          0 if none came in time, -EMSGSIZE if it was longer than len (the
 *          frame is dropped), -EIO if the device failed.
 *   WRITE: send the frame [buf, +len) (readable, len UF_NET_FRAME_MIN..
 *          UF_NET_FRAME_MAX); ret = 0, -EAGAIN if the device's queue is
 *          full (the frame is dropped, as a busy link would), -EIO.
 *   MAC:   write the unit's 6-byte MAC address to [buf, +len), len == 6.
 * A length or pointer outside these bounds is a malformed call.
 */
#define UF_NET_READ      0u
#define UF_NET_WRITE     1u
#define UF_NET_MAC       2u
#define UF_NET_FRAME_MIN 14u      /* an Ethernet header                           */
#define UF_NET_FRAME_MAX 1518u    /* 1500-byte payload, header and a VLAN tag      */
#define UF_NET_BUF_MAX   65536u   /* most a READ buffer may claim                   */
#define UF_NET_WAIT_MAX  3600000u /* a READ waits at most an hour (ms) per call   */
struct uf_hc_net {
	uint32_t op;         /* in: UF_NET_*                                        */
	int32_t ret;         /* out: READ frame length / 0, or -errno               */
	uint64_t buf;        /* in: READ buffer, WRITE frame, MAC 6-byte buffer      */
	uint64_t len;        /* in: READ capacity, WRITE frame length, MAC 6        */
	uint32_t timeout_ms; /* in: READ only; longer than UF_NET_WAIT_MAX is capped */
	uint32_t pad;
};

struct uf_hc_setfs {
	uint64_t base; /* in: new FS base (thread pointer) */
	int32_t ret;
	uint32_t pad;
};

struct uf_hc_yield {
	uint64_t timeout_ns; /* in: sleep at most this long */
	int32_t ret;
	uint32_t pad;
};

_Static_assert(sizeof(struct uf_bootinfo) == 96, "bootinfo layout");
_Static_assert(sizeof(struct uf_hc_console) == 24, "console layout");
_Static_assert(sizeof(struct uf_hc_time) == 16, "time layout");
_Static_assert(sizeof(struct uf_hc_pop) == 56, "pop layout");
_Static_assert(sizeof(struct uf_hc_commit) == 80, "commit layout");
_Static_assert(sizeof(struct uf_rec_out) == 24, "output record layout");
_Static_assert(sizeof(struct uf_hc_topic) == 16, "topic layout");
_Static_assert(sizeof(struct uf_rec_kv) == 32, "kv record layout");
_Static_assert(sizeof(struct uf_hc_kv) == 48, "kv layout");
_Static_assert(sizeof(struct uf_hc_net) == 32, "net layout");
_Static_assert(sizeof(struct uf_hc_http) == 144, "http layout");
_Static_assert(sizeof(struct uf_rec_event) == 32, "event record layout");
_Static_assert(sizeof(struct uf_rec_push) == 16, "push record layout");

#endif /* __ASSEMBLER__ */
#endif
