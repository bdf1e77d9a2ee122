// MathJax 3 for the whole site: the maths of pages and docstrings (pymdownx.arithmatex, generic
// mode: \( \) and \[ \] inside class "arithmatex") and of the notebooks' Markdown cells
// ($ $ and $$ $$ inside mkdocs-jupyter's "jupyter-wrapper"; code and outputs are in <pre>,
// which MathJax skips). mkdocs.yml gives the notebooks' own MathJax 2 an empty script.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jupyter-wrapper"
  }
};

document$.subscribe(() => {
  MathJax.startup.output.clearCache()
  MathJax.typesetClear()
  MathJax.texReset()
  MathJax.typesetPromise()
})
