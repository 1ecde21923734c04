from pathlib import Path

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

DOWNLOAD = Path(__file__).resolve().parent.parent / "static" / "download.bin"


def home(request):
    items = [{"name": f"item {i}", "price": i * 3} for i in range(20)]
    return render(request, "pages/home.html", {"items": items, "title": "hello from django"})


def form(request):
    if request.method == "POST":
        name = request.POST.get("name", "")
        return render(request, "pages/thanks.html", {"name": name})
    return render(request, "pages/form.html")


def stream(request):
    def parts():
        for i in range(5):
            yield f"chunk {i}\n"
    return StreamingHttpResponse(parts(), content_type="text/plain")


def download(request):
    # FileResponse hands the open file to wsgi.file_wrapper (sendfile in the zerg).
    return FileResponse(open(DOWNLOAD, "rb"), content_type="application/octet-stream")
