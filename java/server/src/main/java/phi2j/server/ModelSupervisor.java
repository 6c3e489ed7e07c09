package phi2j.server;

import phi2j.Phi2Exception;
import phi2j.runtime.Phi2Model;

import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;

/**
 * The served model's keeper: opens it in the background when the server starts, says whether it is ready (health),
 * opens it again after its runner died, and closes it. Requests take the model from here.
 */
final class ModelSupervisor implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("phi2j.server");
    private final Supplier<Phi2Model> opener;
    private final ExecutorService background;
    private final Object lock = new Object();
    private volatile Phi2Model model;
    private volatile boolean loading = true;

    ModelSupervisor(Supplier<Phi2Model> opener, ExecutorService background) {
        this.opener = opener;
        this.background = background;
    }

    /** Begins opening the model, off the caller's thread. */
    void openSoon() {
        openInBackground("the model could not be opened: ");
    }

    /** True when the model is open and its runner alive. */
    boolean ready() {
        Phi2Model m = model;
        return m != null && m.isOpen() && !loading;
    }

    /** The open model for a request: 503 while it is first loading, or when it cannot be opened. */
    Phi2Model forRequest() {
        if (loading && model == null) {
            throw new ApiError(503, "server_error", null, "model_loading", "The model is still loading");
        }
        try {
            return model();
        } catch (Phi2Exception e) {
            throw new ApiError(503, "server_error", null, "model_unavailable", "The model could not be opened: " + e.getMessage());
        }
    }

    /** The open model, opening it (again, after a runner crash) when needed. */
    private Phi2Model model() {
        Phi2Model m = model;
        if (m != null && m.isOpen()) {
            return m;
        }
        synchronized (lock) {
            if (model != null && model.isOpen()) {
                return model;
            }
            loading = true;
            try {
                model = opener.get();
                return model;
            } finally {
                loading = false;
            }
        }
    }

    /** After a runner crash: open the model again in the background, so the next request finds it ready. */
    void reopenSoon() {
        openInBackground("reopening the model failed: ");
    }

    private void openInBackground(String failure) {
        background.execute(() -> {
            try {
                model();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, failure + e.getMessage());
            }
        });
    }

    /** What the open model's engine holds now (slots, running, waiting), or null while no model is open. */
    Phi2Model.Load load() {
        Phi2Model m = model;
        return m != null && m.isOpen() ? m.load() : null;
    }

    /** The open model, or null while none is (it is not opened for the asking). */
    Phi2Model openModel() {
        Phi2Model m = model;
        return m != null && m.isOpen() ? m : null;
    }

    /** The runner process of the open model, or -1. */
    long runnerPid() {
        Phi2Model m = model;
        return m != null && m.isOpen() ? m.runnerPid() : -1;
    }

    @Override
    public void close() {
        Phi2Model m = model;
        if (m != null) {
            m.close();
        }
    }
}
