// CwdGateway.cs: a thin C# binding of libcwd_gateway's C ABI (libcwd/include/cwd_gateway.h)
// through P/Invoke, for Mono and for Unity's native plugins. One file, no dependencies
// beyond Json.cs (a small JSON reader/writer beside it).
//
// Memory: every string crosses as UTF-8 bytes we marshal ourselves (never the runtime's
// string marshalling, which would try to free library memory with the wrong allocator);
// every char* the library returns is copied and then handed back to cwd_string_free.
// Callbacks: static trampolines (what IL2CPP requires) kept in static fields, reaching the
// gateway's handlers through a GCHandle passed as user_data; both live until Dispose.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

#if !UNITY_5_3_OR_NEWER
namespace AOT
{
    /// <summary>Unity's marker for methods native code calls back (IL2CPP needs it); a no-op on Mono.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type delegateType) { }
    }
}
#endif

namespace CrowdWiz
{
    /// <summary>cwd_status values (cwd_gateway.h).</summary>
    public enum CwdStatus
    {
        Ok = 0,
        InvalidArgument = 1,
        Config = 2,
        Gateway = 3,
        Host = 4,
        Panic = 5,
    }

    /// <summary>A non-zero cwd_status with the library's JSON error:
    /// {"error": {"code", "message", ...}} (and, for CWD_ERR_GATEWAY, the HTTP status).</summary>
    public sealed class CwdException : Exception
    {
        /// <summary>The cwd_status as returned (an unknown value stays as it is).</summary>
        public CwdStatus Status { get; private set; }
        /// <summary>The error's stable code ("wrong-code", "insufficient-balance", ...).</summary>
        public string Code { get; private set; }
        /// <summary>The error's message, for a person.</summary>
        public string ErrorMessage { get; private set; }
        /// <summary>The HTTP API's status for CWD_ERR_GATEWAY (409, 422, ...), else null.</summary>
        public int? HttpStatus { get; private set; }
        /// <summary>The whole error JSON the library gave (null when it gave none).</summary>
        public string ErrorJson { get; private set; }

        internal CwdException(string what, int status, string errorJson)
            : base(Describe(what, status, errorJson))
        {
            Status = (CwdStatus)status;
            ErrorJson = errorJson;
            Code = "unknown";
            ErrorMessage = errorJson ?? "(no error text)";
            try
            {
                var root = Json.Parse(errorJson) as Dictionary<string, object>;
                var err = root != null ? Json.Get(root, "error") as Dictionary<string, object> : null;
                if (err != null)
                {
                    Code = Json.Get(err, "code") as string ?? Code;
                    ErrorMessage = Json.Get(err, "message") as string ?? ErrorMessage;
                }
                // "status" may sit at the top or inside "error": take either.
                object st = (root != null ? Json.Get(root, "status") : null) ?? (err != null ? Json.Get(err, "status") : null);
                if (st is long) HttpStatus = (int)(long)st;
            }
            catch (FormatException) { }
        }

        private static string Describe(string what, int status, string errorJson)
        {
            return string.Format("{0}: {1} ({2}): {3}", what, (CwdStatus)status, status, errorJson ?? "(no error text)");
        }
    }

    /// <summary>A store the game supplies instead of SQLite or PostgreSQL (cwd_store in the header).
    /// Answer each operation's JSON with its JSON answer; throw when the store cannot answer
    /// (the call in progress then fails with store-unavailable). Called from the library's
    /// threads, possibly several at once: it must be thread-safe, and it must not call the gateway.</summary>
    public interface ICwdStore
    {
        string Handle(string requestJson);
    }

    internal static class Native
    {
        // Resolved by the loader: libcwd_gateway.so (LD_LIBRARY_PATH), cwd_gateway.dll,
        // libcwd_gateway.dylib; a Unity plugin folder. ("__Internal" for a static link on iOS.)
        internal const string Lib = "cwd_gateway";

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void EventFn(IntPtr userData, IntPtr eventJson);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate int StoreFn(IntPtr userData, IntPtr requestJson, IntPtr response);

        [StructLayout(LayoutKind.Sequential)]
        internal struct CwdStore
        {
            public IntPtr call;
            public IntPtr userData;
        }

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr cwd_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void cwd_string_free(IntPtr s);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void cwd_buffer_set(IntPtr response, byte[] data, UIntPtr len);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int cwd_gateway_new(byte[] configToml, byte[] keysToml, IntPtr store, out IntPtr gw, out IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int cwd_gateway_call(IntPtr gw, byte[] function, byte[] argsJson, out IntPtr output);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int cwd_gateway_set_event_callback(IntPtr gw, EventFn callback, IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int cwd_gateway_start_timer(IntPtr gw);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int cwd_gateway_stop_timer(IntPtr gw);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void cwd_gateway_free(IntPtr gw);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int cwd_devnet_start(byte[] optionsJson, out IntPtr devnet, out IntPtr info);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int cwd_devnet_control(IntPtr devnet, byte[] method, byte[] paramsJson, out IntPtr output);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void cwd_devnet_free(IntPtr devnet);

        /// <summary>UTF-8 with the NUL the C side expects; null stays null (a NULL pointer).</summary>
        internal static byte[] Utf8(string s)
        {
            if (s == null) return null;
            int n = Encoding.UTF8.GetByteCount(s);
            var b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        /// <summary>Reads a NUL-terminated UTF-8 string the library owns, without taking it.</summary>
        internal static string Read(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            var b = new byte[n];
            Marshal.Copy(p, b, 0, n);
            return Encoding.UTF8.GetString(b);
        }

        /// <summary>Reads a string the library handed us and frees it with cwd_string_free.</summary>
        internal static string Take(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            try { return Read(p); }
            finally { cwd_string_free(p); }
        }
    }

    /// <summary>A gateway: the CrowdWiz gateway component hosted by the library, called by
    /// name with JSON. Thread-safe: Call from any number of threads at once. Dispose it
    /// when done: it waits for the calls in progress (never Dispose from a callback).
    /// There is no finalizer: a gateway never disposed keeps its threads and timer.</summary>
    public sealed class CwdGateway : IDisposable
    {
        // What the trampolines reach through user_data. Pinned (by a normal GCHandle) from
        // creation to Dispose: the library may call back at any time in between.
        private sealed class Handlers
        {
            public volatile Action<string> OnEvent;
            public ICwdStore Store;
        }

        // The delegates the library holds function pointers to: static, so never collected.
        private static readonly Native.EventFn EventTrampoline = OnEventNative;
        private static readonly Native.StoreFn StoreTrampoline = OnStoreNative;

        /// <summary>Where an exception thrown by an event handler goes (it must not reach
        /// native code). Default: written to stderr.</summary>
        public static Action<Exception> CallbackError = e => Console.Error.WriteLine("cwd_gateway event callback threw: " + e);

        private IntPtr handle;
        private GCHandle handlers;
        private IntPtr storeStruct; // cwd_store, kept for the gateway's lifetime

        /// <summary>The library's version line (cwd_version).</summary>
        public static string Version
        {
            get { return Native.Read(Native.cwd_version()); } // static: never freed
        }

        /// <summary>cwd_gateway_new: configToml is the same TOML as `cwd-gateway run`'s file;
        /// keysToml ("active_wif = ...\nmemo_wif = ...") may be null (then [keys] file or the
        /// environment); store may be null (then [store]: SQLite or PostgreSQL).</summary>
        public CwdGateway(string configToml, string keysToml = null, ICwdStore store = null)
        {
            if (configToml == null) throw new ArgumentNullException("configToml");
            var h = new Handlers { Store = store };
            handlers = GCHandle.Alloc(h);
            try
            {
                if (store != null)
                {
                    var s = new Native.CwdStore
                    {
                        call = Marshal.GetFunctionPointerForDelegate(StoreTrampoline),
                        userData = GCHandle.ToIntPtr(handlers),
                    };
                    storeStruct = Marshal.AllocHGlobal(Marshal.SizeOf(typeof(Native.CwdStore)));
                    Marshal.StructureToPtr(s, storeStruct, false);
                }
                IntPtr gw, err;
                int st = Native.cwd_gateway_new(Native.Utf8(configToml), Native.Utf8(keysToml), storeStruct, out gw, out err);
                string errText = Native.Take(err);
                if (st != 0) throw new CwdException("cwd_gateway_new", st, errText);
                if (gw == IntPtr.Zero) throw new CwdException("cwd_gateway_new", (int)CwdStatus.Panic, "{\"error\": {\"code\": \"host-failed\", \"message\": \"no handle\"}}");
                handle = gw;
            }
            catch
            {
                Release();
                throw;
            }
        }

        // Calls hold it shared, Dispose exclusively: Dispose waits for the calls in
        // progress, as cwd_gateway_free requires, and later calls throw.
        private readonly ReaderWriterLockSlim life = new ReaderWriterLockSlim(LockRecursionPolicy.SupportsRecursion);

        private IntPtr Enter()
        {
            life.EnterReadLock();
            if (handle == IntPtr.Zero)
            {
                life.ExitReadLock();
                throw new ObjectDisposedException("CwdGateway");
            }
            return handle;
        }

        /// <summary>cwd_gateway_call: the HTTP API's call `function` ("start-link", ...) with a
        /// JSON object; returns the answer's JSON. Throws CwdException on any refusal.</summary>
        public string Call(string function, string argsJson = "{}")
        {
            byte[] f = Native.Utf8(function), a = Native.Utf8(argsJson ?? "{}");
            IntPtr output;
            int st;
            IntPtr h = Enter();
            try { st = Native.cwd_gateway_call(h, f, a, out output); }
            finally { life.ExitReadLock(); }
            string text = Native.Take(output);
            if (st != 0) throw new CwdException(function, st, text);
            return text;
        }

        /// <summary>Sets (null: clears) the event handler. It receives each event's JSON
        /// ({"type": "deposit-credited", ...}) on a library thread, after the commit that
        /// made it: queue the work, do not call this gateway from it.</summary>
        public void SetEventCallback(Action<string> onEvent)
        {
            int st;
            IntPtr gw = Enter();
            try
            {
                var h = (Handlers)handlers.Target;
                if (onEvent == null)
                {
                    st = Native.cwd_gateway_set_event_callback(gw, null, IntPtr.Zero);
                    h.OnEvent = null;
                }
                else
                {
                    h.OnEvent = onEvent;
                    st = Native.cwd_gateway_set_event_callback(gw, EventTrampoline, GCHandle.ToIntPtr(handlers));
                }
            }
            finally { life.ExitReadLock(); }
            if (st != 0) throw new CwdException("cwd_gateway_set_event_callback", st, null);
        }

        /// <summary>Starts the timer on a library thread (a second start does nothing).</summary>
        public void StartTimer()
        {
            int st;
            IntPtr h = Enter();
            try { st = Native.cwd_gateway_start_timer(h); }
            finally { life.ExitReadLock(); }
            if (st != 0) throw new CwdException("cwd_gateway_start_timer", st, null);
        }

        /// <summary>Stops the timer and waits for the tick in progress.</summary>
        public void StopTimer()
        {
            int st;
            IntPtr h = Enter();
            try { st = Native.cwd_gateway_stop_timer(h); }
            finally { life.ExitReadLock(); }
            if (st != 0) throw new CwdException("cwd_gateway_stop_timer", st, null);
        }

        /// <summary>cwd_gateway_free (stops the timer), then lets the handlers go.
        /// No call may be in progress on this gateway.</summary>
        public void Dispose()
        {
            life.EnterWriteLock();
            try { Release(); }
            finally { life.ExitWriteLock(); }
        }

        private void Release()
        {
            IntPtr h = Interlocked.Exchange(ref handle, IntPtr.Zero);
            if (h != IntPtr.Zero) Native.cwd_gateway_free(h);
            // Only once the library can no longer call back:
            if (storeStruct != IntPtr.Zero)
            {
                Marshal.FreeHGlobal(storeStruct);
                storeStruct = IntPtr.Zero;
            }
            if (handlers.IsAllocated) handlers.Free();
        }

        [AOT.MonoPInvokeCallback(typeof(Native.EventFn))]
        private static void OnEventNative(IntPtr userData, IntPtr eventJson)
        {
            // No exception may unwind into the library.
            try
            {
                var h = (Handlers)GCHandle.FromIntPtr(userData).Target;
                var f = h.OnEvent;
                if (f != null) f(Native.Read(eventJson)); // borrowed: never freed here
            }
            catch (Exception e)
            {
                try { CallbackError(e); } catch { }
            }
        }

        [AOT.MonoPInvokeCallback(typeof(Native.StoreFn))]
        private static int OnStoreNative(IntPtr userData, IntPtr requestJson, IntPtr response)
        {
            try
            {
                var h = (Handlers)GCHandle.FromIntPtr(userData).Target;
                string answer = h.Store.Handle(Native.Read(requestJson));
                if (answer == null) return 1;
                byte[] b = Encoding.UTF8.GetBytes(answer);
                Native.cwd_buffer_set(response, b, (UIntPtr)b.Length);
                return 0;
            }
            catch (Exception e)
            {
                try
                {
                    byte[] b = Encoding.UTF8.GetBytes(e.GetType().Name + ": " + e.Message);
                    Native.cwd_buffer_set(response, b, (UIntPtr)b.Length);
                }
                catch { }
                return 1;
            }
        }
    }

    /// <summary>The in-process devnet (a simulated chain on loopback) for examples and tests.</summary>
    public sealed class CwdDevnet : IDisposable
    {
        private IntPtr handle;

        /// <summary>The devnet's info JSON: {url, ws_url, chain_id, accounts: {name: {id, active_wif, memo_wif, ...}}}.</summary>
        public string Info { get; private set; }

        private CwdDevnet(IntPtr h, string info)
        {
            handle = h;
            Info = info;
        }

        /// <summary>cwd_devnet_start: {"block_ms", "irreversible_lag", "seed", "accounts": {"name": CWD}}.</summary>
        public static CwdDevnet Start(string optionsJson = "{}")
        {
            IntPtr d, info;
            int st = Native.cwd_devnet_start(Native.Utf8(optionsJson ?? "{}"), out d, out info);
            string text = Native.Take(info);
            if (st != 0) throw new CwdException("cwd_devnet_start", st, text);
            return new CwdDevnet(d, text);
        }

        /// <summary>cwd_devnet_control: "transfer", "messages", "balance", "produce_block", ...</summary>
        public string Control(string method, string paramsJson = "{}")
        {
            IntPtr h = handle;
            if (h == IntPtr.Zero) throw new ObjectDisposedException("CwdDevnet");
            IntPtr output;
            int st = Native.cwd_devnet_control(h, Native.Utf8(method), Native.Utf8(paramsJson ?? "{}"), out output);
            GC.KeepAlive(this);
            string text = Native.Take(output);
            if (st != 0) throw new CwdException("devnet " + method, st, text);
            return text;
        }

        public void Dispose()
        {
            IntPtr h = Interlocked.Exchange(ref handle, IntPtr.Zero);
            if (h != IntPtr.Zero) Native.cwd_devnet_free(h);
        }
    }
}
